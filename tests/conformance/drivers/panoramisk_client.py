#!/usr/bin/python3
"""amid conformance driver for panoramisk (Debian python3-panoramisk, asyncio).

Run with Debian's interpreter, /usr/bin/python3, which sees the apt package.
Environment: AMI_HOST, AMI_PORT, AMI_USER, AMI_SECRET, AMI_TIMEOUT (seconds
per step, default 5).  Prints one line per step:
    PASS panoramisk/STEP | FAIL panoramisk/STEP: reason | SKIP panoramisk/STEP: reason
and exits 1 when a step failed.

Only the library's public API is used (Manager, send_action, send_command,
register_event);
the md5 step sends Challenge/Login through send_action on a Manager created
without credentials, because panoramisk itself only knows plaintext Login.
"""
import asyncio
import hashlib
import logging
import os
import sys

CLIENT = "panoramisk"

try:
    from panoramisk import Manager
except ImportError as exc:
    print("FAIL %s/import: %s (run tests/conformance/install-clients.sh; "
          "use /usr/bin/python3)" % (CLIENT, exc), flush=True)
    sys.exit(1)

HOST = os.environ.get("AMI_HOST", "127.0.0.1")
PORT = int(os.environ.get("AMI_PORT", "5038"))
USER = os.environ.get("AMI_USER", "admin")
SECRET = os.environ.get("AMI_SECRET", "amp111")
STEP_TIMEOUT = float(os.environ.get("AMI_TIMEOUT", "5"))

# panoramisk logs "Connection lost" and the like at ERROR level; the steps
# report what matters, so keep its log quiet unless asked (AMI_DEBUG=1).
logging.getLogger("panoramisk").setLevel(
    logging.DEBUG if os.environ.get("AMI_DEBUG") else logging.CRITICAL)


class Report:
    def __init__(self):
        self.failures = 0

    def line(self, verdict, step, reason=""):
        text = "%s %s/%s" % (verdict, CLIENT, step)
        if reason:
            text += ": " + " ".join(str(reason).split())
        print(text, flush=True)
        if verdict == "FAIL":
            self.failures += 1

    async def run(self, step, check):
        """check(note) is a coroutine returning None on success or a reason;
        it may call note("what it waits for") so a timeout says where."""
        waiting_for = []
        try:
            reason = await asyncio.wait_for(check(waiting_for.append), STEP_TIMEOUT)
        except asyncio.TimeoutError:
            reason = "no answer within %gs" % STEP_TIMEOUT
            if waiting_for:
                reason += " (waiting for %s)" % waiting_for[-1]
        except Exception as exc:  # any client-side error is the step failing
            reason = "%s: %s" % (type(exc).__name__, exc)
        if reason is None:
            self.line("PASS", step)
            return True
        self.line("FAIL", step, reason)
        return False


def new_manager(**credentials):
    # Huge reconnect/ping intervals: a closed connection must not start a
    # reconnect loop or keep-alive pings in the middle of a step.
    return Manager(host=HOST, port=PORT, loop=asyncio.get_running_loop(),
                   reconnect_timeout=3600, ping_delay=3600, ping_interval=3600,
                   **credentials)


async def connect(manager):
    """Open the connection; returns once the protocol object exists."""
    await manager.connect()
    while manager.protocol is None:
        await asyncio.sleep(0.005)


async def login_reply(manager):
    """Connect a Manager created with username/secret and return the reply
    to the Login that panoramisk sends by itself on connect."""
    await connect(manager)
    while manager.authenticated_future is None and not manager.authenticated:
        await asyncio.sleep(0.005)
    future = manager.authenticated_future
    return (await future) if future is not None else None


async def closed_by_server(manager):
    while manager.protocol is not None and not manager.protocol.closed:
        await asyncio.sleep(0.005)


async def main(report):
    loop = asyncio.get_running_loop()
    event_name = "AmidConformance%d" % os.getpid()
    user_events = loop.create_future()

    def on_user_event(_manager, event):
        if event.get("UserEvent") == event_name and not user_events.done():
            user_events.set_result(event)

    ami = new_manager(username=USER, secret=SECRET)
    ami.register_event("UserEvent", on_user_event)

    async def login(note):
        reply = await login_reply(ami)
        if not ami.authenticated:
            return "Login refused: %r" % (reply,)
        return None

    if not await report.run("login", login):
        ami.close()
        return

    async def ping(note):
        reply = await ami.send_action({"Action": "Ping"})
        if reply.response != "Success" or reply.ping != "Pong":
            return "want Response: Success and Ping: Pong, got %r" % (reply,)
        return None

    await report.run("ping", ping)

    async def userevent(note):
        ack = await ami.send_action({"Action": "UserEvent",
                                     "UserEvent": event_name,
                                     "Payload": "hello: world"})
        if ack.response != "Success":
            return "UserEvent answered %r (want Response: Success first)" % (ack,)
        note("Event: UserEvent after the Success reply")
        event = await user_events
        if event.get("Payload") != "hello: world":
            return "Payload header of the event is %r, want 'hello: world' (%r)" % (
                event.get("Payload"), event)
        if "user" not in event.get("Privilege", "").split(","):
            return "event Privilege %r lacks 'user'" % (event.get("Privilege"),)
        return None

    await report.run("userevent", userevent)

    async def listcommands(note):
        reply = await ami.send_action({"Action": "ListCommands"})
        if reply.response != "Success":
            return "Response %r" % (reply.response,)
        absent = [name for name in ("Ping", "Login", "Logoff") if name not in reply]
        if absent:
            return "not listed: %s (%r)" % (", ".join(absent), reply)
        return None

    await report.run("listcommands", listcommands)

    async def command(note):
        # ami_version < 2: "Response: Follows" with the raw output before
        # --END COMMAND-- (panoramisk keeps it as the message content);
        # otherwise Success/Error with "Output:" lines.
        reply = await ami.send_command("core show version")
        if reply.response not in ("Success", "Follows", "Error"):
            return "want Response: Follows, Success or Error, got %r" % (reply,)
        output = reply.get("Output") or ""
        if isinstance(output, list):
            output = "\n".join(output)
        text = (reply.content or "") + output
        if "amid " not in text:
            return "the output of 'core show version' did not reach the client: %r" % (reply,)
        return None

    await report.run("command", command)

    async def logoff(note):
        reply = await ami.send_action({"Action": "Logoff"})
        if reply.response != "Goodbye":
            return "want Response: Goodbye, got %r" % (reply,)
        note("the server to close the connection after Response: Goodbye")
        await closed_by_server(ami)
        return None

    await report.run("logoff", logoff)
    ami.close()

    # MD5 challenge login through the generic send_action.
    anon = new_manager()

    async def md5(note):
        await connect(anon)
        challenge = await anon.send_action({"Action": "Challenge", "AuthType": "MD5"})
        if challenge.response != "Success" or not challenge.challenge:
            return "Challenge answered %r" % (challenge,)
        key = hashlib.md5((challenge.challenge + SECRET).encode()).hexdigest()
        reply = await anon.send_action({"Action": "Login", "AuthType": "MD5",
                                        "Username": USER, "Key": key})
        if reply.response != "Success":
            return "MD5 Login answered %r" % (reply,)
        pong = await anon.send_action({"Action": "Ping"})
        if pong.response != "Success":
            return "Ping after MD5 login answered %r" % (pong,)
        bye = await anon.send_action({"Action": "Logoff"})
        if bye.response != "Goodbye":
            return "Logoff answered %r" % (bye,)
        return None

    await report.run("md5", md5)
    anon.close()

    intruder = new_manager(username=USER, secret=SECRET + "-not-the-secret")

    async def badlogin(note):
        reply = await login_reply(intruder)
        if intruder.authenticated:
            return "Login with a wrong secret was accepted: %r" % (reply,)
        if reply is None or reply.response != "Error":
            return "want Response: Error, got %r" % (reply,)
        return None

    await report.run("badlogin", badlogin)
    intruder.close()


if __name__ == "__main__":
    rep = Report()
    asyncio.run(main(rep))
    sys.exit(1 if rep.failures else 0)
