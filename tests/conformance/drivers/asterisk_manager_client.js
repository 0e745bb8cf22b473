#!/usr/bin/env node
'use strict';
// amid conformance driver for npm asterisk-manager@0.2.0.
// Environment: AMI_HOST AMI_PORT AMI_USER AMI_SECRET AMI_TIMEOUT (s per step).
// Prints PASS/FAIL/SKIP asterisk-manager/STEP lines; exits 1 when a step failed.
const { settings, Report, loadClient, show } = require('./common');

const report = new Report('asterisk-manager');
const AsteriskManager = loadClient(report, 'asterisk-manager');

// The constructor connects and logs in by itself only when given a port, and
// then drops the Login reply; so pass no port and call connect()/login().
function open(secret) {
  const ami = new AsteriskManager(undefined, settings.host, settings.user, secret, true);
  ami.on('error', () => {});
  const loggedIn = new Promise((resolve, reject) => {
    ami.once('close', () => reject(new Error('server closed the connection before answering Login')));
    ami.connect(settings.port, settings.host, () => {
      // The callback gets the 'Response: Error' message as its error.
      ami.login((err) => (err ? reject(Object.assign(new Error('Login refused'), { reply: err })) : resolve()));
    });
  });
  loggedIn.catch(() => {}); // examined by the step that awaits it
  return { ami, loggedIn };
}

// ami.action() with a promise: resolves with the reply, or with the
// 'Response: Error' reply (passed as the callback's error).
function send(ami, action) {
  return new Promise((resolve) => {
    ami.action(action, (err, reply) => resolve(err || reply));
  });
}

(async () => {
  const eventName = `AmidConformance${process.pid}`;
  const { ami, loggedIn } = open(settings.secret);

  if (!(await report.run('login', async () => { await loggedIn; return null; }))) {
    ami.disconnect();
    report.exit();
    return;
  }

  await report.run('ping', async () => {
    const r = await send(ami, { action: 'Ping' });
    if (r.response !== 'Success' || r.ping !== 'Pong') return `want Response: Success and Ping: Pong, got ${show(r)}`;
    return null;
  });

  await report.run('userevent', async (note) => {
    // The client emits 'userevent-<name in lower case>' for Event: UserEvent.
    const arrived = new Promise((resolve) => ami.once(`userevent-${eventName.toLowerCase()}`, resolve));
    const ack = await send(ami, { action: 'UserEvent', userevent: eventName, payload: 'hello: world' });
    if (ack.response !== 'Success') return `UserEvent answered ${show(ack)}`;
    note('Event: UserEvent after the Success reply');
    const ev = await arrived;
    if (ev.payload !== 'hello: world') return `event payload is ${show(ev.payload)}, want "hello: world" (${show(ev)})`;
    if (!String(ev.privilege || '').split(',').includes('user')) return `event privilege ${show(ev.privilege)} lacks user`;
    return null;
  });

  await report.run('listcommands', async () => {
    const r = await send(ami, { action: 'ListCommands' });
    if (r.response !== 'Success') return `ListCommands answered ${show(r)}`;
    // This client lower-cases header names.
    const absent = ['ping', 'login', 'logoff'].filter((name) => !(name in r));
    return absent.length ? `not listed: ${absent.join(', ')} (${show(r)})` : null;
  });

  await report.run('command', async () => {
    // ami_version < 2: "Response: Follows" read up to --END COMMAND-- (the
    // client hands the whole block over as `content`); otherwise
    // Success/Error with Output lines (an Error reply arrives as `err`).
    const r = await send(ami, { action: 'Command', command: 'core show version' });
    if (!['success', 'follows', 'error'].includes(String(r.response).toLowerCase())) {
      return `want Response: Follows, Success or Error, got ${show(r)}`;
    }
    const text = `${r.content || ''}${[].concat(r.output || []).join('\n')}`;
    return /amid /.test(text) ? null : `the output of 'core show version' did not reach the client: ${show(r)}`;
  });

  await report.run('logoff', async (note) => {
    const closed = new Promise((resolve) => ami.once('close', resolve));
    const r = await send(ami, { action: 'Logoff' });
    if (r.response !== 'Goodbye') return `want Response: Goodbye, got ${show(r)}`;
    note('the server to close the connection after Response: Goodbye');
    await closed;
    return null;
  });
  ami.disconnect();

  report.line('SKIP', 'md5', 'asterisk-manager holds back every action but Login until logged in, so it cannot send Challenge');

  const intruder = open(`${settings.secret}-not-the-secret`);
  await report.run('badlogin', async () => {
    try {
      await intruder.loggedIn;
    } catch (err) {
      if (err.reply && String(err.reply.response).toLowerCase() === 'error') return null;
      return `Login failed without Response: Error (${err.message})`;
    }
    return 'Login with a wrong secret was accepted';
  });
  intruder.ami.disconnect();
  report.exit();
})();
