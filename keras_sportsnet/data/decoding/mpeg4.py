"""MPEG-4 Part 2 (DivX/Xvid) bitstream facts the PyAV backend needs to number frames without decoding them.

AVI stores no presentation timestamps, and DivX/Xvid "packed bitstream" AVIs put a reference VOP (video object
plane, i.e. a picture) and the next B-VOP in one chunk. These helpers read the VOP start codes and headers of a
packet so that the index can tell which chunks hold which kinds of pictures.
"""

__all__ = ["B_VOP", "VOP_START", "vop_types"]

VOP_START = b"\x00\x00\x01\xb6"
"""Start code of a video object plane (a picture)."""

B_VOP = 2
"""``vop_coding_type`` of a B-VOP (0: I, 1: P, 2: B, 3: S)."""


def vop_types(data):
    """Coding types (0=I, 1=P, 2=B, 3=S) of the VOPs in one MPEG-4 Part 2 packet, in bitstream order.

    Args:
        data: bytes of one packet.

    Returns:
        list of int.

    Example:
    >>> vop_types(b"\\x00\\x00\\x01\\xb6\\x50\\x00\\x00\\x00\\x01\\xb6\\x90")
    [1, 2]
    """
    types = []
    position = data.find(VOP_START)
    while position >= 0 and position + 4 < len(data):
        types.append(data[position + 4] >> 6)
        position = data.find(VOP_START, position + 4)
    return types
