// What every driver shares: the official client configured for a running mock, and calls that check answers.
// A driver runs as `node DRIVER.js BASE_URL TOKEN`, with the client's package name in CLIENT_PACKAGE
// (tests/test_node_client.py installs the package and sets both). Each checked call prints one JSON line,
// {method, ok, detail, refused}, where `refused` marks a call expected to be refused; `run` exits 1 when any call
// failed or answered the wrong thing.
'use strict';

const Client = require(process.env.CLIENT_PACKAGE);

const [baseUrl, token] = process.argv.slice(2);
const apiClient = new Client.ApiClient();
apiClient.basePath = baseUrl;
apiClient.authentications.api_key.apiKey = token;

let failed = false;

function report(method, ok, detail, refused = false) {
  if (!ok) failed = true;
  process.stdout.write(JSON.stringify({ method, ok, detail, refused }) + '\n');
}

// The status of an error answer: the client turns it into an exception (NotFoundException, ...) carrying it.
function statusOf(error) {
  return error.errorCode || error.status || (error.context && error.context.status);
}

// Calls `method` and checks its answer with `expect(data, answer)`, which returns a problem (a string) or nothing.
async function call(method, promise, expect) {
  try {
    const answer = await promise;
    const problem = answer && answer.success === true ? expect(answer.data, answer) : 'success is not true';
    report(method, !problem, problem || 'ok');
    return answer.data;
  } catch (error) {
    report(method, false, `${statusOf(error) || ''} ${(error && error.message) || error}`.trim());
    return null;
  }
}

// Calls `method` and expects the client to reject it with `status`.
async function refused(method, promise, status) {
  try {
    await promise;
    report(method, false, `answered although ${status} was expected`, true);
  } catch (error) {
    const got = statusOf(error);
    report(method, got === status, `${got} (expected ${status})`, true);
  }
}

const same = (a, b, what) => (a === b ? undefined : `${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
const sameList = (a, b, what) => same(JSON.stringify(a), JSON.stringify(b), what);
const ids = (records) => (records || []).map((record) => record.id);

// Runs the driver's steps and exits with the verdict; a step that throws fails the run.
function run(steps) {
  steps()
    .then(() => process.exit(failed ? 1 : 0))
    .catch((error) => {
      const status = error && statusOf(error);
      const body = error && error.context && error.context.body;
      report(
        'script',
        false,
        status ? `${status} ${JSON.stringify(body || error.message)}` : String((error && error.stack) || error),
      );
      process.exit(1);
    });
}

module.exports = { Client, apiClient, call, refused, same, sameList, ids, run };
