"""Motion-JPEG facts the PyAV backend checks without decoding: each frame must be a complete, self-contained JPEG.

FFmpeg's MJPEG decoder keeps quantisation and Huffman tables from one frame to the next. A frame whose own tables
are missing or damaged therefore decodes differently depending on which frames were decoded before it (a read that
seeks to it and a sequential decode disagree). `frame_problem` finds such frames from the JPEG marker segments.
"""

import struct

__all__ = ["frame_problem", "has_huffman_tables"]

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8}


def frame_problem(image, width, height, huffman_expected):
    """What makes one MJPEG frame unusable on its own, or None.

    Args:
        image: bytes of one packet.
        width, height: int. The video's frame size.
        huffman_expected: bool. Whether frames carry their own Huffman tables (they all do, or none does and the
            standard tables apply).

    Returns:
        str (a problem, in words) or None.

    Example:
    >>> frame_problem(b"not a jpeg", 64, 48, True)
    'does not start with a JPEG start-of-image marker'
    """
    if not image.startswith(b"\xff\xd8"):
        return "does not start with a JPEG start-of-image marker"
    position = 2
    quantisation, huffman, components = set(), False, None
    while True:
        while image[position : position + 2] == b"\xff\xff":
            position += 1  # fill bytes
        if position + 2 > len(image) or image[position] != 0xFF:
            return "has a damaged JPEG header (a marker segment is missing or cut)"
        marker = image[position + 1]
        if marker == 0xD9:
            return "ends before its image data (an end-of-image marker and no scan)"
        if marker in _STANDALONE:
            position += 2
            continue
        if position + 4 > len(image):
            return "has a damaged JPEG header (a marker segment is cut)"
        length = struct.unpack(">H", image[position + 2 : position + 4])[0]
        body = image[position + 4 : position + 2 + length]
        if length < 2 or len(body) != length - 2:
            return "has a damaged JPEG header (a segment length runs past the image)"
        if marker == 0xDB:  # DQT: (precision, id) + 64 or 128 bytes, repeated
            cursor = 0
            while cursor < len(body):
                precision, table = body[cursor] >> 4, body[cursor] & 15
                if precision > 1 or table > 3:
                    return f"has an invalid quantisation table (precision {precision}, id {table})"
                quantisation.add(table)
                cursor += 1 + 64 * (precision + 1)
            if cursor != len(body):
                return "has a damaged quantisation table segment"
        elif marker == 0xC4:
            huffman = True
        elif marker in _SOF:
            if len(body) < 6:
                return "has a damaged frame header"
            _, rows, columns, count = struct.unpack(">BHHB", body[:6])
            if len(body) != 6 + 3 * count or count == 0:
                return "has a damaged frame header"
            if (columns, rows) != (width, height):
                return f"is {columns}x{rows}, not {width}x{height} like the video"
            components = [body[6 + 3 * c + 2] for c in range(count)]
        elif marker == 0xDA:  # SOS: the image data follows
            if components is None:
                return "has a scan before its frame header"
            for selector in components:
                if selector not in quantisation:
                    return (
                        f"uses quantisation table {selector}, which it does not define (an invalid selector, or a "
                        "table lost: the frame would decode with another frame's table)"
                    )
            if huffman_expected and not huffman:
                return "has no Huffman tables while the other frames have theirs (it would decode with another frame's)"
            if image.rstrip(b"\x00")[-2:] != b"\xff\xd9":
                return "does not end with a JPEG end-of-image marker (its data is cut)"
            return None
        position += 2 + length


def has_huffman_tables(image):
    """Whether a JPEG image defines Huffman tables before its scan (else the standard tables apply).

    Example:
    >>> has_huffman_tables(b"\xff\xd8\xff\xc4\x00\x02\xff\xda")
    True
    """
    scan = image.find(b"\xff\xda")
    return b"\xff\xc4" in image[: scan if scan >= 0 else len(image)]
