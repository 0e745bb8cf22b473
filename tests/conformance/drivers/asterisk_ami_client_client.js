#!/usr/bin/env node
'use strict';
// amid conformance driver for npm asterisk-ami-client@1.1.5 (with its
// dependencies asterisk-ami-connector and asterisk-ami-events-stream).
// Environment: AMI_HOST AMI_PORT AMI_USER AMI_SECRET AMI_TIMEOUT (s per step).
// Prints PASS/FAIL/SKIP asterisk-ami-client/STEP lines; exits 1 when a step failed.
const net = require('net');
const crypto = require('crypto');
const { settings, Report, loadClient, show } = require('./common');

const report = new Report('asterisk-ami-client');
const AmiClient = loadClient(report, 'asterisk-ami-client');

const target = { host: settings.host, port: settings.port };

(async () => {
  const eventName = `AmidConformance${process.pid}`;
  const client = new AmiClient({ reconnect: false, keepAlive: false });
  client.on('internalError', () => {});

  if (!(await report.run('login', async () => { await client.connect(settings.user, settings.secret, target); return null; }))) {
    client.disconnect();
    report.exit();
    return;
  }

  await report.run('ping', async () => {
    const r = await client.action({ Action: 'Ping' }, true);
    if (r.Response !== 'Success' || r.Ping !== 'Pong') return `want Response: Success and Ping: Pong, got ${show(r)}`;
    return null;
  });

  await report.run('userevent', async (note) => {
    // With emitEventsByTypes (the default) events are emitted by Event name.
    const arrived = new Promise((resolve) => {
      const listener = (ev) => {
        if (ev.UserEvent !== eventName) return;
        client.removeListener('UserEvent', listener);
        resolve(ev);
      };
      client.on('UserEvent', listener);
    });
    const ack = await client.action({ Action: 'UserEvent', UserEvent: eventName, Payload: 'hello: world' }, true);
    if (ack.Response !== 'Success') return `UserEvent answered ${show(ack)}`;
    note('Event: UserEvent after the Success reply');
    const ev = await arrived;
    if (ev.Payload !== 'hello: world') return `event Payload is ${show(ev.Payload)}, want "hello: world" (${show(ev)})`;
    if (!String(ev.Privilege || '').split(',').includes('user')) return `event Privilege ${show(ev.Privilege)} lacks user`;
    return null;
  });

  await report.run('listcommands', async () => {
    const r = await client.action({ Action: 'ListCommands' }, true);
    if (r.Response !== 'Success') return `ListCommands answered ${show(r)}`;
    const absent = ['Ping', 'Login', 'Logoff'].filter((name) => !(name in r));
    return absent.length ? `not listed: ${absent.join(', ')} (${show(r)})` : null;
  });

  await report.run('command', async () => {
    // ami_version < 2: "Response: Follows", buffered by the client up to
    // --END COMMAND-- (the output lands in $content); otherwise
    // Success/Error with Output lines.
    const r = await client.action({ Action: 'Command', Command: 'core show version' }, true);
    if (!['Success', 'Follows', 'Error'].includes(r.Response)) {
      return `want Response: Follows, Success or Error, got ${show(r)}`;
    }
    const text = `${r.$content || ''}${[].concat(r.Output || []).join('\n')}`;
    return /amid /.test(text) ? null : `the output of 'core show version' did not reach the client: ${show(r)}`;
  });

  await report.run('logoff', async (note) => {
    const closed = new Promise((resolve) => client.once('disconnect', resolve));
    const r = await client.action({ Action: 'Logoff' }, true);
    if (r.Response !== 'Goodbye') return `want Response: Goodbye, got ${show(r)}`;
    note('the server to close the connection after Response: Goodbye');
    await closed;
    return null;
  });
  client.disconnect();

  // The client's connector logs in with a plaintext Login only; the MD5
  // exchange goes through the same package's connection class (its framing,
  // parser and serializer) on a socket of our own.
  await report.run('md5', async () => {
    const AmiConnection = loadClient(report, 'asterisk-ami-connector/lib/AmiConnection');
    const socket = net.connect(target);
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const conn = new AmiConnection(socket);
    conn.on('error', () => {});
    const waiting = new Map();
    conn.on('response', (r) => {
      const done = waiting.get(r.ActionID);
      if (done) { waiting.delete(r.ActionID); done(r); }
    });
    let seq = 0;
    const send = (msg) => new Promise((resolve) => {
      const id = `md5-${process.pid}-${++seq}`;
      waiting.set(id, resolve);
      conn.write(Object.assign({}, msg, { ActionID: id }));
    });
    try {
      const c = await send({ Action: 'Challenge', AuthType: 'MD5' });
      if (c.Response !== 'Success' || !c.Challenge) return `Challenge answered ${show(c)}`;
      const key = crypto.createHash('md5').update(c.Challenge + settings.secret).digest('hex');
      const l = await send({ Action: 'Login', AuthType: 'MD5', Username: settings.user, Key: key });
      if (l.Response !== 'Success') return `MD5 Login answered ${show(l)}`;
      const p = await send({ Action: 'Ping' });
      if (p.Response !== 'Success') return `Ping after MD5 login answered ${show(p)}`;
      const g = await send({ Action: 'Logoff' });
      if (g.Response !== 'Goodbye') return `Logoff answered ${show(g)}`;
      return null;
    } finally {
      conn.close();
    }
  });

  await report.run('badlogin', async () => {
    const intruder = new AmiClient({ reconnect: false });
    intruder.on('internalError', () => {});
    try {
      await intruder.connect(settings.user, `${settings.secret}-not-the-secret`, target);
    } catch (err) {
      // The connector rejects with 'AMI message: <Message>' on a non-Success reply,
      // and with 'ami auth error' when the socket closes first.
      return /^AMI message/.test(err.message) ? null : `Login failed without an AMI reply (${err.message})`;
    } finally {
      intruder.disconnect();
    }
    return 'Login with a wrong secret was accepted';
  });
  report.exit();
})();
