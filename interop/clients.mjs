// clients.mjs evaluates a list of cases through the two real OpenFeature
// OFREP clients from npm against one OFREP base URL, and prints every answer
// as JSON on stdout:
//
//   node clients.mjs CASES.json
//
// CASES.json is {"baseUrl": "http://127.0.0.1:PORT", "cases": [{"id": 0,
// "flag": "checkout-banner", "context": {"targetingKey": "user-123", …},
// "type": "boolean"|"string"|"number"|"object", "default": …}, …]}.
//
// The output is {"server": [ANSWER…], "web": [ANSWER…], "webEvents": […]},
// one ANSWER per case
// in the input's order: {"id", "value", "variant", "reason", "errorCode",
// "errorMessage"} as the SDK's evaluation details give them (absent fields
// are null).
//
//   - server: @openfeature/server-sdk with @openfeature/ofrep-provider; one
//     single-flag request per case, the case's context as the invocation
//     context.
//   - web: @openfeature/web-sdk with @openfeature/ofrep-web-provider, which
//     Node 20 runs as well (it has fetch). The web SDK has one global
//     context: the runner sets each case's context with
//     OpenFeature.setContext (the provider then fetches the bulk
//     evaluation) and evaluates from the provider's cache, as a page would.
//     Consecutive cases with the same context share one bulk request, so
//     the order of the cases is the order of the contexts a page would see.
//     No polling, no local storage cache (Node has none), and no EventSource
//     (Node 20 has none): the answers are those of the bulk response.
//
// The packages are loaded through require: the providers' "import" entry
// points are CommonJS wrappers that require the SDKs, and loading the SDKs
// as ES modules beside them would give two copies of each SDK (two
// singletons, two sets of error classes). The browser test loads the ES
// module builds instead.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const server = require('@openfeature/server-sdk');
const { OFREPProvider } = require('@openfeature/ofrep-provider');
const web = require('@openfeature/web-sdk');
const { OFREPWebProvider } = require('@openfeature/ofrep-web-provider');

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { baseUrl, cases } = input;

const getters = {
  boolean: 'getBooleanDetails',
  string: 'getStringDetails',
  number: 'getNumberDetails',
  object: 'getObjectDetails',
};

function answer(id, d) {
  return {
    id,
    value: d.value === undefined ? null : d.value,
    variant: d.variant ?? null,
    reason: d.reason ?? null,
    errorCode: d.errorCode ?? null,
    errorMessage: d.errorMessage ?? null,
  };
}

function getter(c) {
  const name = getters[c.type];
  if (!name) {
    throw new Error(`case ${c.id} (${c.flag}): unknown type ${JSON.stringify(c.type)}`);
  }
  return name;
}

async function serverAnswers() {
  const domain = 'redisflags-interop';
  await server.OpenFeature.setProviderAndWait(domain, new OFREPProvider({ baseUrl }));
  const client = server.OpenFeature.getClient(domain);
  const out = [];
  for (const c of cases) {
    const d = await client[getter(c)](c.flag, c.default, c.context ?? {});
    out.push(answer(c.id, d));
  }
  await server.OpenFeature.close();
  return out;
}

// webEvents are the web provider's ERROR and STALE events, with the case
// whose context change preceded them: what a page would log.
const webEvents = [];

async function webAnswers() {
  const out = [];
  if (cases.length === 0) {
    return out;
  }
  let at = cases[0].id;
  for (const type of [web.ProviderEvents.Error, web.ProviderEvents.Stale]) {
    web.OpenFeature.addHandler(type, (e) => webEvents.push({ case: at, type, message: e?.message ?? null }));
  }
  const provider = new OFREPWebProvider({ baseUrl, pollInterval: 0, cacheMode: 'disabled' });
  let current = JSON.stringify(cases[0].context ?? {});
  await web.OpenFeature.setProviderAndWait(provider, cases[0].context ?? {});
  const client = web.OpenFeature.getClient();
  for (const c of cases) {
    const ctx = JSON.stringify(c.context ?? {});
    if (ctx !== current) {
      at = c.id;
      await web.OpenFeature.setContext(c.context ?? {});
      current = ctx;
    }
    out.push(answer(c.id, client[getter(c)](c.flag, c.default)));
  }
  await web.OpenFeature.close();
  return out;
}

try {
  const result = { server: await serverAnswers(), web: await webAnswers(), webEvents };
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (err) {
  process.stderr.write(`clients.mjs: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}
