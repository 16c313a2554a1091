from backend.chat.coalesce import Coalescer


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_first_piece_goes_out_at_once_then_per_interval():
    clock = Clock()
    c = Coalescer(0.05, clock)
    assert c.add("a") == "a"
    clock.now = 0.01
    assert c.add("b") is None
    clock.now = 0.03
    assert c.add("c") is None
    clock.now = 0.06
    assert c.add("d") == "bcd"
    assert c.add("e") is None
    assert c.drain() == "e"
    assert c.drain() == ""


def test_interval_can_change_between_pieces():
    clock = Clock()
    c = Coalescer(0.05, clock)
    assert c.add("a") == "a"
    c.interval_s = 0.5
    clock.now = 0.1
    assert c.add("b") is None  # 0.1 s is no longer enough
    clock.now = 0.5
    assert c.add("c") == "bc"
