// readme-example.mjs is the README's Go example in JavaScript, run in both
// npm OFREP clients against `redisflags serve` at the URL given:
//
//   node readme-example.mjs http://127.0.0.1:8080
//
// It prints {"server": {"on": …, "banner": …}, "web": {…}}.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const baseUrl = process.argv[2];
const out = {};

{
  // Node services: @openfeature/server-sdk with @openfeature/ofrep-provider.
  const { OpenFeature } = require('@openfeature/server-sdk');
  const { OFREPProvider } = require('@openfeature/ofrep-provider');
  await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl }));
  const client = OpenFeature.getClient();
  const evalCtx = { targetingKey: 'user-123', region: 'us-west' };
  const on = await client.getBooleanValue('checkout-banner', false, evalCtx);
  let banner = null;
  if (on) {
    banner = await client.getObjectValue('checkout-banner:payload', {}, evalCtx); // the JSON payload
  }
  out.server = { on, banner };
  await OpenFeature.close();
}

{
  // Browsers (and Node): @openfeature/web-sdk with @openfeature/ofrep-web-provider.
  const { OpenFeature } = require('@openfeature/web-sdk');
  const { OFREPWebProvider } = require('@openfeature/ofrep-web-provider');
  await OpenFeature.setProviderAndWait(new OFREPWebProvider({ baseUrl, cacheMode: 'disabled' }),
    { targetingKey: 'user-123', region: 'us-west' });
  const client = OpenFeature.getClient();
  const on = client.getBooleanValue('checkout-banner', false);
  let banner = null;
  if (on) {
    banner = client.getObjectValue('checkout-banner:payload', {}); // the JSON payload
  }
  out.web = { on, banner };
  await OpenFeature.close();
}

process.stdout.write(JSON.stringify(out) + '\n');
