"""MPEG-4 Part 2 (DivX/Xvid) bitstream facts the PyAV backend needs to number the frames of an AVI without decoding.

AVI stores no presentation timestamps, and DivX/Xvid "packed bitstream" AVIs put a reference VOP (video object
plane, i.e. a picture) and the next B-VOP in one chunk, followed by a not-coded "N-VOP" chunk. FFmpeg's decoder
turns such chunks into frames with a one-chunk delay and B-frame reordering; `display_order` replays that logic
on the VOP headers alone (start codes, coding types, the ``vop_coded`` bit), so that the index knows which chunk
each decoded frame comes from. The reader checks every frame it decodes against this prediction (frames carry
the number of the chunk they came from) and falls back to an exact count by decoding when they disagree.
"""

import dataclasses

__all__ = ["B_VOP", "VOP_START", "Vop", "display_order", "time_increment_bits", "vops"]

VOP_START = b"\x00\x00\x01\xb6"
"""Start code of a video object plane (a picture)."""

VOS_START = b"\x00\x00\x01\xb0"
"""Start code of a visual object sequence (a stream's headers, repeated where streams were spliced)."""

I_VOP, P_VOP, B_VOP, S_VOP = 0, 1, 2, 3
"""``vop_coding_type`` values."""


@dataclasses.dataclass(frozen=True)
class Vop:
    """One VOP of a packet.

    Attributes:
        offset: int. Byte offset of its start code in the packet.
        kind: int. ``vop_coding_type`` (0: I, 1: P, 2: B, 3: S).
        coded: bool or None. The ``vop_coded`` bit (False: an N-VOP, no picture); None if it could not be read.
    """

    offset: int
    kind: int
    coded: object = True


class _Bits:
    def __init__(self, data, offset):
        self.data, self.position = data, offset * 8

    def read(self, count):
        value = 0
        for _ in range(count):
            byte = self.position >> 3
            if byte >= len(self.data):
                raise IndexError("end of data")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.position & 7))) & 1)
            self.position += 1
        return value


def time_increment_bits(data):
    """Bits of ``vop_time_increment`` from the first video object layer header in ``data``, or None.

    Args:
        data: bytes holding a VOL header (the codec's extradata or the first packet).

    Returns:
        int or None.

    Example:
    ```python
    bits = time_increment_bits(stream.codec_context.extradata or first_packet_bytes)
    ```
    """
    position = 0
    while True:
        position = data.find(b"\x00\x00\x01", position)
        if position < 0 or position + 4 > len(data):
            return None
        if 0x20 <= data[position + 3] <= 0x2F:
            break
        position += 3
    try:
        bits = _Bits(data, position + 4)
        bits.read(1)  # random_accessible_vol
        bits.read(8)  # video_object_type_indication
        verid = 1
        if bits.read(1):  # is_object_layer_identifier
            verid = bits.read(4)
            bits.read(3)
        if bits.read(4) == 15:  # aspect_ratio_info: extended PAR
            bits.read(16)
        if bits.read(1):  # vol_control_parameters
            bits.read(3)  # chroma_format, low_delay
            if bits.read(1):  # vbv_parameters
                bits.read(79)
        shape = bits.read(2)
        if shape == 3 and verid != 1:
            bits.read(4)
        bits.read(1)  # marker
        resolution = bits.read(16)
    except IndexError:
        return None
    if resolution < 1:
        return None
    return max(1, (resolution - 1).bit_length())


def vops(data, increment_bits=None):
    """The VOPs of one MPEG-4 Part 2 packet, in bitstream order.

    Args:
        data: bytes of one packet.
        increment_bits: int or None. ``vop_time_increment`` length (`time_increment_bits`); None leaves
            ``coded`` unread (None).

    Returns:
        list of `Vop`.

    Example:
    >>> [v.kind for v in vops(b"\\x00\\x00\\x01\\xb6\\x50\\x00\\x00\\x00\\x01\\xb6\\x90")]
    [1, 2]
    """
    found = []
    position = data.find(VOP_START)
    while position >= 0 and position + 4 < len(data):
        kind = data[position + 4] >> 6
        coded = None
        if increment_bits is not None:
            try:
                bits = _Bits(data, position + 4)
                bits.read(2)
                while bits.read(1):  # modulo_time_base
                    pass
                bits.read(1)  # marker
                bits.read(increment_bits)
                bits.read(1)  # marker
                coded = bool(bits.read(1))
            except IndexError:
                coded = None
        found.append(Vop(position, kind, coded))
        position = data.find(VOP_START, position + 4)
    return found


def starts_with_headers(data):
    """Whether a packet's first start code is a visual object sequence (stream headers: a splice or restart)."""
    position = data.find(b"\x00\x00\x01")
    return position >= 0 and data[position : position + 4] == VOS_START


def display_order(packets, packed, low_delay):
    """Which packet each decoded frame carries, in output order, as FFmpeg's MPEG-4 decoder produces them.

    Replays ``h263dec.c``: in a packed stream, a B-VOP that follows the decoded VOP in a packet is kept and
    decoded during the next packet's call (whose number the frame then carries), that next packet's own VOP
    being kept in turn; a kept VOP is dropped when the next packet restarts the stream with its headers (the
    "Discarding excessive bitstream in packed xvid" case); not-coded VOPs give no picture; B-frames are output at
    once, references one reference later (unless ``low_delay``), and B-frames before two references are skipped.

    Args:
        packets: list of ``(vops, restarts)`` per packet in decoding order: its `Vop` list and whether it starts
            with stream headers (`starts_with_headers`).
        packed: bool. DivX packed bitstream (B-VOPs stored with the previous reference).
        low_delay: bool. The stream has no B-frames (references output at once).

    Returns:
        ``(order, intra, discarded)``: the packet number of each output frame, whether each output frame is an
        I-VOP, and the numbers of the packets where a picture is lost (damage): a chunk without a VOP, a coded
        VOP the decoder neither decodes nor keeps, a kept B-VOP dropped at a restart, or, in a packed stream, an
        N-VOP placeholder with no B-VOP to release.

    Example:
    ```python
    order, intra, discarded = display_order([(vops(p), starts_with_headers(p)) for p in data], True, False)
    ```
    """
    order, intra, discarded = [], [], []
    kept = None  # (vop, source packet) waiting for the next call
    pending = None  # decoded reference waiting for output: (packet, is_intra)
    references = 0

    def decode(vop, carrier):
        nonlocal pending, references
        if vop is None or vop.coded is False:
            return
        if vop.kind == B_VOP:
            if references >= 2:
                order.append(carrier)
                intra.append(False)
            return
        references += 1
        if low_delay:
            order.append(carrier)
            intra.append(vop.kind == I_VOP)
        else:
            if pending is not None:
                order.append(pending[0])
                intra.append(pending[1])
            pending = (carrier, vop.kind == I_VOP)

    for number, (packet_vops, restarts) in enumerate(packets):
        if packed and kept is not None and restarts:
            discarded.append(kept[1])
            kept = None
        if kept is not None:
            decode(kept[0], number)
            kept, rest = None, packet_vops
        else:
            if not packet_vops:
                discarded.append(number)  # a frame chunk without a picture
            elif packed and packet_vops[0].coded is False:
                discarded.append(number)  # a placeholder with no packed B-VOP to release: that picture was lost
            decode(packet_vops[0] if packet_vops else None, number)
            rest = packet_vops[1:]
        if packed and rest and rest[0].kind in (I_VOP, B_VOP):  # FFmpeg keeps a following I- or B-VOP
            kept, rest = (rest[0], number), rest[1:]
        if any(vop.coded is not False for vop in rest):
            discarded.append(number)  # a coded VOP that is neither decoded nor kept: its picture is lost
    if pending is not None and not low_delay:
        order.append(pending[0])
        intra.append(pending[1])
    return order, intra, discarded
