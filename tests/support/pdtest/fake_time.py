"""A clock for retry tests that only moves when the code under test sleeps."""


class FakeTime(object):

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self):
        return self.now
