// Comlink's Node adapter, typed. The UMD build's types fail under NodeNext (comlink 4.4), so we import the
// ESM build and declare the one function we use. Both sides of every thread boundary import it from here.
// @ts-expect-error: the .mjs file ships without a declaration that NodeNext resolves.
import nodeEndpointUntyped from 'comlink/dist/esm/node-adapter.mjs';
import type { Endpoint } from 'comlink';
import type { MessagePort, Worker } from 'node:worker_threads';

export const nodeEndpoint = nodeEndpointUntyped as (port: MessagePort | Worker) => Endpoint;
