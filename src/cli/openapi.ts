/** Prints the OpenAPI document (`npm run -s openapi > openapi.json`; `npm run openapi:lint` checks it with Redocly). */
import { openApiDocument } from '../http/openapi';

process.stdout.write(`${JSON.stringify(openApiDocument(), null, 2)}\n`);
