// page.js is a page of another origin using the OFREP web provider, as an
// application would. The query string gives the OFREP base URL ("base"),
// the flag to show ("flag") and how changes are detected ("mode": "sse",
// the provider's default with polling off, or "poll" with "interval" ms).
//
// window.__interop reports to the test: ready or error, then every value
// the page shows (also through window.reportValue, when the test exposes
// it, with the page's clock).
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';

const q = new URLSearchParams(location.search);
const flag = q.get('flag') || 'live-message';
const state = { ready: false, error: null, value: null, reason: null, values: [] };
window.__interop = state;

const options = { baseUrl: q.get('base') };
if (q.get('mode') === 'poll') {
  options.changeDetection = 'polling';
  options.pollInterval = Number(q.get('interval') || 500);
} else {
  options.changeDetection = 'sse';
  options.pollInterval = 0;
}

const client = OpenFeature.getClient();

function show() {
  const d = client.getStringDetails(flag, 'none');
  state.value = d.value;
  state.reason = d.reason;
  state.values.push(d.value);
  document.getElementById('value').textContent = d.value;
  if (typeof window.reportValue === 'function') {
    window.reportValue(d.value, Date.now());
  }
}

client.addHandler(ProviderEvents.ConfigurationChanged, show);

try {
  await OpenFeature.setProviderAndWait(new OFREPWebProvider(options), { targetingKey: 'browser-user' });
  state.ready = true;
  show();
} catch (err) {
  state.error = String(err && err.message ? err.message : err);
}
