"""HEVC (ITU-T H.265: 7.3.1.2 NAL unit header, 7.3.2.2 SPS, 7.3.3 profile_tier_level): the
picture size of a HEIC's images, from the SPS in its hvcC configuration and in its data."""

from __future__ import annotations

from handlers.probe.readers import Bits, Reader, Size, WorkCap, largest

_HEVC_SPS = 33
# The SPS reaches the picture size within ~120 bytes (7 sub-layers of profile data at most).
_SPS_BYTES = 256


def hevc_size(configs: list[bytes], samples: list[bytes], work: WorkCap) -> Size | None:
    """The largest picture: the SPS NAL units in the hvcC boxes and in the samples (libheif
    passes both to the decoder)."""
    sizes, length_size = [], None
    for config in configs:
        hvcc = Reader(config, 0, len(config), "hvcC box")
        hvcc.skip(21)
        length_size = (hvcc.u8() & 3) + 1
        for _ in range(hvcc.u8()):  # arrays of NAL units by type
            hvcc.skip(1)
            count = hvcc.u16()
            work.step(count + 1)
            for _ in range(count):
                size = hvcc.u16()
                nal = config[hvcc.skip(size) : hvcc.pos]
                sizes.append(_hevc_sps_size(nal))
    for sample in samples if length_size else ():  # without hvcC the NAL unit lengths are unknown
        units = Reader(sample, 0, len(sample), "HEVC data")
        while units.pos < units.end:
            work.step()
            size = units.uint(length_size)
            start = units.skip(size)
            sizes.append(_hevc_sps_size(sample[start : start + min(size, 2 + _SPS_BYTES)]))
    return largest(sizes)


def _hevc_sps_size(nal: bytes) -> Size | None:
    """pic_width/height_in_luma_samples of an SPS of the base layer (the decoder drops other
    layers); None for any other NAL unit. The size before the conformance window's crop."""
    if len(nal) < 2 or (nal[0] >> 1) & 0x3F != _HEVC_SPS or (nal[0] & 1) or nal[1] >> 3:
        return None
    rbsp = nal[2 : 2 + _SPS_BYTES].replace(b"\0\0\3", b"\0\0")  # emulation prevention bytes
    bits = Bits(rbsp, "HEVC SPS")
    bits.u(4)  # sps_video_parameter_set_id
    sub_layers = bits.u(3)  # sps_max_sub_layers_minus1
    bits.u(1)  # sps_temporal_id_nesting_flag
    bits.u(96)  # profile_tier_level: general profile (88 bits) and level (8)
    present = [(bits.u(1), bits.u(1)) for _ in range(sub_layers)]  # sub_layer_profile/level_present_flag
    if sub_layers:
        bits.u(2 * (8 - sub_layers))  # reserved_zero_2bits
    for profile, level in present:
        bits.u(88 * profile + 8 * level)
    bits.exp_golomb()  # sps_seq_parameter_set_id
    if bits.exp_golomb() == 3:  # chroma_format_idc
        bits.u(1)  # separate_colour_plane_flag
    return bits.exp_golomb(), bits.exp_golomb()  # pic_width/height_in_luma_samples
