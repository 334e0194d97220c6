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

// Answers whose values the client may read as nothing, by the operation's method and path, with the reason. Any
// other value the mock sends that the client's model reads as null or undefined fails the run: it means the mock's
// shape is not the service's one, as the client models it (an object where the service sends a plain id, ...).
const DROPPED = {
  'DELETE /notes/{id}': 'the mock answers {id} as its other deletes do, where the service answers true (DEVIATIONS)',
};

// The first place under `raw` whose value is not null but whose value in `read` is, as `PATH (the mock sent VALUE)`.
function dropped(raw, read, path = 'answer') {
  if (raw === null || raw === undefined) return undefined;
  if (read === null || read === undefined) return `${path} (the mock sent ${JSON.stringify(raw).slice(0, 200)})`;
  if (typeof raw !== 'object') return undefined;
  for (const key of Object.keys(raw)) {
    const lost = dropped(raw[key], read[key], Array.isArray(raw) ? `${path}[${key}]` : `${path}.${key}`);
    if (lost) return lost;
  }
  return undefined;
}

const deserialize = apiClient.deserialize.bind(apiClient);
apiClient.deserialize = (response, returnType) => {
  // The client's models take the keys they read out of the answer, so the answer is copied first.
  const raw = JSON.parse(JSON.stringify(response.body || null));
  const answer = deserialize(response, returnType);
  const path = response.req.path
    .split('?')[0]
    .replace(/^\/(api\/)?v1/, '')
    .replace(/\/\d+/g, '/{id}');
  const operation = `${response.req.method} ${path}`;
  const lost = raw && !(operation in DROPPED) && dropped(raw, answer);
  if (lost) report(`shape of ${operation}`, false, `the client reads ${lost} as nothing`);
  return answer;
};

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
