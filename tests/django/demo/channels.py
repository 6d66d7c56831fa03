"""A channel manager whose permissions the test can revoke, to make django-eventstream kick."""
from django_eventstream.channelmanager import DefaultChannelManager

# Channels nobody may read any more; the /kick/ view adds to it (one process, runserver).
DENIED = set()


class ChannelManager(DefaultChannelManager):
    def can_read_channel(self, user, channel):
        return channel not in DENIED
