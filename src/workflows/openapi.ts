/** The workflows' part of the OpenAPI document: spread `paths` into `paths` and `schemas` into `components.schemas`. */
import {
  informationRequestQuerySchema,
  informationRequestSchema,
  informationResponseResultSchema,
  informationResponseSchema,
  newInformationRequestSchema,
  pictureSchema,
  referralDecisionSchema,
  referralListSchema,
  referralQuerySchema,
  referralSchema,
  triageQuerySchema,
  triageSchema,
} from './schemas';

const problemRef = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request or unknown vocabulary word',
  401: 'Missing or invalid access token',
  403: 'Not allowed: scope or role; the asker deciding their own referral; a field a deny rule withholds',
  404: 'Not found, or not open to your agency (the same answer)',
  409: 'Already decided or answered',
  413: 'Body too large',
  422: 'A decision that does not fit the referral',
  429: 'Rate limited (Retry-After)',
  503: 'Audit ledger unavailable: nothing recorded, nothing disclosed',
};
const problems = (...statuses: number[]): Record<string, unknown> =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: DESCRIPTIONS[s] ?? 'Error', content: problemRef }]));
const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });
const queryParams = (schema: { properties: Record<string, unknown> }) =>
  Object.entries(schema.properties).map(([name, s]) => ({ name, in: 'query', required: false, schema: s }));
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };

export function workflowsOpenApi(): { paths: Record<string, unknown>; schemas: Record<string, unknown> } {
  return {
    schemas: {
      Referral: referralSchema,
      ReferralList: referralListSchema,
      ReferralDecision: referralDecisionSchema,
      NewInformationRequest: newInformationRequestSchema,
      InformationRequest: informationRequestSchema,
      InformationRequestList: {
        type: 'object',
        required: ['view', 'informationRequests'],
        properties: {
          view: { type: 'string' },
          informationRequests: { type: 'array', items: { $ref: '#/components/schemas/InformationRequest' } },
        },
      },
      InformationResponse: informationResponseSchema,
      InformationResponseResult: informationResponseResultSchema,
      InformationPicture: pictureSchema,
      TriageList: triageSchema,
    },
    paths: {
      '/v1/referrals': {
        get: {
          operationId: 'listReferrals',
          summary:
            "The decider's queue (referrals routed to your role at your agency), or the referrals you asked for (view=mine); scope " +
            'decisions',
          parameters: queryParams(referralQuerySchema),
          responses: {
            '200': { description: 'Referrals, open ones first by time limit', content: json('ReferralList') },
            ...problems(400, 401, 403, 429),
          },
        },
      },
      '/v1/referrals/{id}': {
        get: {
          operationId: 'getReferral',
          summary:
            'One referral: what was asked, what the decider must decide, the decision and its reasons (the asker, or a decider of its ' +
            'role)',
          parameters: [idParam],
          responses: { '200': { description: 'The referral', content: json('Referral') }, ...problems(401, 403, 404, 429) },
        },
      },
      '/v1/referrals/{id}/decision': {
        post: {
          operationId: 'decideReferral',
          summary:
            'Decide a referral: share, share some or do not share, with reasons. Only fields a refer rule sends to your role can be ' +
            'released — never one a deny rule withholds; the asker cannot decide their own referral. Recorded as a referral_decision ' +
            'ledger entry pointing at the original decision; referral.decided is sent.',
          parameters: [idParam],
          requestBody: { required: true, content: json('ReferralDecision') },
          responses: {
            '200': { description: 'The decided referral', content: json('Referral') },
            ...problems(400, 401, 403, 404, 409, 413, 422, 429, 503),
          },
        },
      },
      '/v1/information-requests': {
        post: {
          operationId: 'createInformationRequest',
          summary:
            "Ask several agencies what they hold about a subject, for one purpose, by a priority deadline (MASH, children's social care, " +
            'Cafcass, MARAC); or the Cafcass safeguarding checks template. information_request.received goes to each agency asked.',
          requestBody: { required: true, content: json('NewInformationRequest') },
          responses: {
            '201': { description: 'Created; Location', content: json('InformationRequest') },
            ...problems(400, 401, 403, 404, 413, 429, 503),
          },
        },
        get: {
          operationId: 'listInformationRequests',
          summary: 'Requests your agency made (view=asked_by_me) or was asked (view=asked_of_me, the default)',
          parameters: queryParams(informationRequestQuerySchema),
          responses: {
            '200': { description: 'Requests for information', content: json('InformationRequestList') },
            ...problems(400, 401, 403, 429),
          },
        },
      },
      '/v1/information-requests/{id}': {
        get: {
          operationId: 'getInformationRequest',
          summary:
            'A request for information and its status per agency (awaiting, answered, declined, overdue); an agency asked sees only its ' +
            'own',
          parameters: [idParam],
          responses: { '200': { description: 'The request', content: json('InformationRequest') }, ...problems(401, 403, 404, 429) },
        },
      },
      '/v1/information-requests/{id}/responses': {
        post: {
          operationId: 'respondToInformationRequest',
          summary:
            'Answer a request your agency was asked: release records of your own (each decided by the sharing policy for the requester ' +
            'and recorded as a disclosure) or decline with a reason. information_request.answered goes to the requester.',
          parameters: [idParam],
          requestBody: { required: true, content: json('InformationResponse') },
          responses: {
            '201': {
              description: 'Answered: what each release shared and withheld (names only)',
              content: json('InformationResponseResult'),
            },
            ...problems(400, 401, 403, 404, 409, 413, 429, 503),
          },
        },
      },
      '/v1/information-requests/{id}/picture': {
        get: {
          operationId: 'getInformationPicture',
          summary:
            "The requester's combined picture of everything released, oldest first, decided again for the reader and recorded per record " +
            'before the answer',
          parameters: [idParam],
          responses: { '200': { description: 'The picture', content: json('InformationPicture') }, ...problems(401, 403, 404, 429, 503) },
        },
      },
      '/v1/triage/daily': {
        get: {
          operationId: 'getDailyTriage',
          summary:
            'The daily domestic abuse triage list: police incidents of the 24 hours before the meeting that involve children, by family, ' +
            'with chronology signals; filtered by policy for your agency and recorded as a disclosure per family',
          parameters: queryParams(triageQuerySchema),
          responses: { '200': { description: 'The list', content: json('TriageList') }, ...problems(400, 401, 403, 429, 503) },
        },
      },
    },
  };
}
