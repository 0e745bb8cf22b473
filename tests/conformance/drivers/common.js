'use strict';
// Shared by the Node.js conformance drivers: settings from the environment,
// step reporting, and loading the pinned client packages that
// install-clients.sh put in tests/conformance/node_modules.
const path = require('path');

const settings = {
  host: process.env.AMI_HOST || '127.0.0.1',
  port: Number(process.env.AMI_PORT || 5038),
  user: process.env.AMI_USER || 'admin',
  secret: process.env.AMI_SECRET || 'amp111',
  stepMs: Number(process.env.AMI_TIMEOUT || 5) * 1000,
};

const modulesDir = path.resolve(__dirname, '..', 'node_modules');

// Load a module from the client packages; a missing package is a FAIL line.
function loadClient(report, request) {
  try {
    return require(require.resolve(request, { paths: [modulesDir] }));
  } catch (err) {
    report.line('FAIL', 'import', `${String(err.message).split('\n')[0]} (run tests/conformance/install-clients.sh)`);
    report.exit();
    return null;
  }
}

function oneLine(text) {
  return String(text).replace(/\s+/g, ' ').trim();
}

class Report {
  constructor(client) {
    this.client = client;
    this.failures = 0;
  }

  line(verdict, step, reason) {
    let text = `${verdict} ${this.client}/${step}`;
    if (reason) text += `: ${oneLine(reason)}`;
    process.stdout.write(`${text}\n`);
    if (verdict === 'FAIL') this.failures += 1;
  }

  // check(note) resolves to null/'' on success or to a failure reason; it may
  // call note('what it waits for') so that a timeout says where it stuck.
  async run(step, check) {
    let timer;
    let waitingFor = '';
    const note = (text) => { waitingFor = text; };
    const deadline = new Promise((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${settings.stepMs / 1000}s`
        + (waitingFor ? ` (waiting for ${waitingFor})` : '')), settings.stepMs);
    });
    let reason;
    try {
      reason = await Promise.race([Promise.resolve().then(() => check(note)), deadline]);
    } catch (err) {
      reason = `${(err && err.name) || 'Error'}: ${err && err.message !== undefined ? err.message : err}`;
    } finally {
      clearTimeout(timer);
    }
    if (reason) {
      this.line('FAIL', step, reason);
      return false;
    }
    this.line('PASS', step);
    return true;
  }

  exit() {
    // Flush stdout before leaving: process.exit() may cut a piped write short.
    process.stdout.write('', () => process.exit(this.failures ? 1 : 0));
  }
}

// JSON for failure reasons, without enormous output.
function show(value) {
  const text = JSON.stringify(value);
  return text && text.length > 400 ? `${text.slice(0, 400)}...` : text;
}

module.exports = { settings, Report, loadClient, show };
