"""A pubcontrol or gripcontrol publisher that tests/e2e/zmq_scaleout.rs drives line by line.

Usage: publisher.py pubcontrol|gripcontrol CONFIG_JSON

Builds PubControl(config) or GripPubControl(config), unmodified and configured exactly as an
application would configure it, with a sub_callback. Then it reads commands on stdin, one a
line:

    publish CHANNEL FIRST LAST   publish http-stream items "CHANNEL FIRST\\n" ... "CHANNEL LAST\\n"
                                 in order, each with blocking=True
    close                        close the publisher and exit

and writes events on stdout, one a line, each flushed at once:

    ready                        the publisher is built
    sub CHANNEL                  sub_callback('sub', CHANNEL): a first subscriber somewhere
    unsub CHANNEL                sub_callback('unsub', CHANNEL): the last subscriber left
    published CHANNEL LAST       every item of the publish command was handed to pubcontrol
    failed CHANNEL REASON        pubcontrol raised on one of them (an HTTP 401, say); the rest
                                 of that command is skipped
    closed

It exits when stdin ends. An exception ends it with a traceback on stderr.
"""

import json
import sys
import threading

from gripcontrol import GripPubControl, HttpStreamFormat
from pubcontrol import Item, PubControl

_print_lock = threading.Lock()


def say(line):
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def on_subscription(event, channel):
    # Called on pubcontrol's ZmqPubController thread.
    say("%s %s" % (event, channel))


def main():
    kind, config = sys.argv[1], json.loads(sys.argv[2])
    if kind == "pubcontrol":
        pub = PubControl(config, sub_callback=on_subscription)

        def publish(channel, content):
            item = Item(HttpStreamFormat(content))
            pub.publish(channel, item, blocking=True)

    elif kind == "gripcontrol":
        pub = GripPubControl(config, sub_callback=on_subscription)

        def publish(channel, content):
            pub.publish_http_stream(channel, content, blocking=True)

    else:
        raise SystemExit("unknown publisher kind %r" % kind)
    say("ready")
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["publish"]:
            channel, first, last = words[1], int(words[2]), int(words[3])
            try:
                for n in range(first, last + 1):
                    publish(channel, "%s %d\n" % (channel, n))
            except Exception as e:
                say("failed %s %s" % (channel, " ".join(str(e).split())))
                continue
            say("published %s %d" % (channel, last))
        elif words == ["close"]:
            pub.close()
            say("closed")
            return
        else:
            raise SystemExit("unknown command %r" % line)


if __name__ == "__main__":
    main()
