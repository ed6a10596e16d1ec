// evaluate.cjs is the oracle of importer's flagd differential test
// (importer/flagd_differential_test.go): flagd's in-process evaluator,
// @openfeature/flagd-core, evaluates a flagd flag file for many contexts.
//
//   node evaluate.cjs FLAGS.json CASES.json > ANSWERS.ndjson
//
// CASES.json is {"evaluations": [[flagKey, type], …], "defaults": {type: value},
// "contexts": [context, …]}, type one of boolean, string, number, object.
// Each output line answers one context: an array, per evaluation, of
// [value, variant, reason, errorCode] (variant and errorCode "" when unset).
// A last line {"metadata": {flagKey: metadata}} holds each flag's metadata
// as flagd-core reports it with a successful resolution.
'use strict';

const fs = require('node:fs');
const { FlagdCore } = require('@openfeature/flagd-core');

const silent = { error() {}, warn() {}, info() {}, debug() {} };

function main() {
  const [flagsPath, casesPath] = process.argv.slice(2);
  if (!flagsPath || !casesPath) {
    process.stderr.write('usage: node evaluate.cjs FLAGS.json CASES.json\n');
    process.exit(2);
  }
  const core = new FlagdCore(undefined, silent);
  core.setConfigurations(fs.readFileSync(flagsPath, 'utf8'));
  const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
  const out = [];
  const metadata = {};
  for (const ctx of cases.contexts) {
    const row = [];
    for (const [flag, type] of cases.evaluations) {
      const r = core.resolve(type, flag, cases.defaults[type], ctx, silent);
      row.push([r.value, r.variant ?? '', r.reason ?? '', r.errorCode ?? '']);
      if (!r.errorCode && r.flagMetadata && !(flag in metadata)) {
        metadata[flag] = r.flagMetadata;
      }
    }
    out.push(JSON.stringify(row));
    if (out.length >= 500) {
      fs.writeSync(1, out.join('\n') + '\n');
      out.length = 0;
    }
  }
  out.push(JSON.stringify({ metadata }));
  fs.writeSync(1, out.join('\n') + '\n');
}

main();
