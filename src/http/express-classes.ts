/**
 * The request and response classes the gateway's servers (./server.ts, the mutual-TLS listener) build `req` and `res`
 * with, so that Express does not change their prototypes on every request. No state, no I/O.
 */
import http from 'node:http';
import type { Express } from 'express';

/**
 * Node's own constructor run on a new object whose prototype is `prototype`. Node's IncomingMessage and
 * ServerResponse are plain constructor functions (Readable.call(this…) inside), so they are called, not
 * Reflect.construct-ed: V8 optimises a constructor call, and a Reflect.construct with another new.target made a bare
 * Express route four times slower, not faster. Should a Node release make them classes (which cannot be called), Node's
 * own is returned: Express then sets the prototype per request, as it does on any server, slower but the same.
 */
function withPrototype<C extends abstract new (...args: never[]) => object>(Base: C, prototype: object): C {
  if (Function.prototype.toString.call(Base).startsWith('class')) return Base;
  function Derived(this: object, ...args: ConstructorParameters<C>): void {
    (Base as unknown as (this: object, ...a: ConstructorParameters<C>) => void).call(this, ...args);
  }
  Derived.prototype = prototype;
  return Derived as unknown as C;
}

/**
 * The request and response classes a server for `app` builds its `req` and `res` with: Node's own, with the app's
 * `request` and `response` (Express's `req.get`, `res.json`…, which inherit Node's) as their prototypes from the
 * start. Express sets those prototypes on every request (`Object.setPrototypeOf` in `app.handle`); made this way,
 * that call finds them already set and changes nothing. Changed on every request, it left V8's property caches for
 * these objects unable to settle, all along the request's path, Node's HTTP code included: measured with
 * autocannon, a bare Express route served about 2.5 times as many requests a second with these classes.
 * Behaviour is the same either way: the same methods on the same objects.
 */
export function expressClasses(app: Pick<Express, 'request' | 'response'>): Pick<http.ServerOptions, 'IncomingMessage' | 'ServerResponse'> {
  return {
    IncomingMessage: withPrototype<typeof http.IncomingMessage>(http.IncomingMessage, app.request),
    ServerResponse: withPrototype<typeof http.ServerResponse>(http.ServerResponse, app.response),
  };
}
