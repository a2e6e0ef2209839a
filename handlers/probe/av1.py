"""AV1 (AV1 spec, 5.3 OBU header, 5.5 sequence header, 5.9 frame header): the frame size of an
AVIF's images and tracks, from the sequence headers in its av1C configuration and in its data,
and from the frame headers, which may override it (dav1d decodes the frame header's size, up to
2**frame_width_bits, whatever the sequence header's maximum)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.probe.readers import Bits, Size, WorkCap, largest

_OBU_SEQUENCE_HEADER, _OBU_FRAME_HEADER, _OBU_FRAME = 1, 3, 6
_KEY_FRAME, _INTRA_ONLY_FRAME, _SWITCH_FRAME = 0, 2, 3
_SELECT = 2  # SELECT_SCREEN_CONTENT_TOOLS, SELECT_INTEGER_MV
# Fields read from the front of a header: a sequence header reaches its frame size within ~400
# bytes (32 operating points at most), a frame header within ~100.
_HEADER_BYTES = 1024


@dataclass
class _Av1Sequence:
    reduced: bool = True  # reduced_still_picture_header: one key frame of the maximum size
    width_bits: int = 0
    height_bits: int = 0
    max_width: int = 0
    max_height: int = 0
    equal_picture_interval: bool = False
    decoder_model: bool = False
    buffer_delay_bits: int = 0  # 0: no decoder model
    buffer_removal_bits: int = 0
    presentation_bits: int = 0
    operating_points: tuple[tuple[int, bool], ...] = ()  # (idc, decoder model present)
    frame_id_bits: int = 0  # 0: no frame ids
    delta_frame_id_bits: int = 0
    screen_content_tools: int = _SELECT
    integer_mv: int = _SELECT
    order_hint_bits: int = 0


def av1_size(configs: list[bytes], samples: list[bytes], work: WorkCap) -> Size | None:
    """The largest frame: the sequence headers in the av1C configOBUs and in the samples, and
    the frame headers in the samples, which may override the size (each read with the sequence
    header before it in the samples; the decoder sees only the samples, not av1C)."""
    sizes = []
    for config in configs:
        for obu_type, _, _, payload in _obus(config, work):
            if obu_type == _OBU_SEQUENCE_HEADER:
                sequence = _av1_sequence_header(payload)
                sizes.append((sequence.max_width, sequence.max_height))
    sequence = None
    for sample in samples:
        for obu_type, temporal_id, spatial_id, payload in _obus(sample, work):
            if obu_type == _OBU_SEQUENCE_HEADER:
                sequence = _av1_sequence_header(payload)
                sizes.append((sequence.max_width, sequence.max_height))
            elif obu_type in (_OBU_FRAME_HEADER, _OBU_FRAME) and sequence is not None and not sequence.reduced:
                sizes.append(_av1_frame_size(sequence, payload, temporal_id, spatial_id))
    return largest(sizes)


def _obus(data: bytes, work: WorkCap):
    """(obu_type, temporal_id, spatial_id, payload) of each OBU, its payload cut to its first
    _HEADER_BYTES (all a header parse needs)."""
    pos, end = 0, len(data)
    while pos < end:
        work.step()
        header = data[pos]
        if header & 0x80:
            raise ValueError("AV1 OBU has its forbidden bit set")
        pos += 1
        temporal_id = spatial_id = 0
        if header & 0x04:  # obu_extension_flag
            if pos >= end:
                raise ValueError("AV1 OBU extension header is truncated")
            temporal_id, spatial_id = data[pos] >> 5, (data[pos] >> 3) & 3
            pos += 1
        size = end - pos
        if header & 0x02:  # obu_has_size_field
            size, pos = _leb128(data, pos, end)
        if pos + size > end:
            raise ValueError("AV1 OBU overruns its data")
        yield (header >> 3) & 15, temporal_id, spatial_id, data[pos : pos + min(size, _HEADER_BYTES)]
        pos += size


def _leb128(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        if pos >= end:
            raise ValueError("AV1 OBU size is truncated")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos
    raise ValueError("AV1 OBU size is longer than 8 bytes")


def _av1_sequence_header(payload: bytes) -> _Av1Sequence:
    """sequence_header_obu() (5.5.1) up to the fields a frame header depends on."""
    bits = Bits(payload, "AV1 sequence header")
    profile = bits.u(3)
    if profile > 2:
        raise ValueError(f"AV1 sequence header has an unknown profile {profile}")
    bits.u(1)  # still_picture
    seq = _Av1Sequence(reduced=bool(bits.u(1)))
    if seq.reduced:
        bits.u(5)  # seq_level_idx[0]
    else:
        if bits.u(1):  # timing_info_present_flag
            _av1_timing_info(bits, seq)
        seq.operating_points = _av1_operating_points(bits, seq)
    seq.width_bits, seq.height_bits = bits.u(4) + 1, bits.u(4) + 1
    seq.max_width, seq.max_height = bits.u(seq.width_bits) + 1, bits.u(seq.height_bits) + 1
    if seq.reduced:
        return seq  # the frame header of a reduced sequence cannot change the size
    _av1_coding_tools(bits, seq)
    return seq


def _av1_timing_info(bits: Bits, seq: _Av1Sequence) -> None:
    """timing_info() (5.5.3), then decoder_model_info_present_flag and decoder_model_info() (5.5.4)."""
    bits.u(64)  # num_units_in_display_tick, time_scale
    seq.equal_picture_interval = bool(bits.u(1))
    if seq.equal_picture_interval:
        bits.exp_golomb()  # num_ticks_per_picture_minus_1: uvlc(), the same code
    seq.decoder_model = bool(bits.u(1))
    if seq.decoder_model:
        seq.buffer_delay_bits = bits.u(5) + 1
        bits.u(32)  # num_units_in_decoding_tick
        seq.buffer_removal_bits = bits.u(5) + 1
        seq.presentation_bits = bits.u(5) + 1


def _av1_operating_points(bits: Bits, seq: _Av1Sequence) -> tuple[tuple[int, bool], ...]:
    """initial_display_delay_present_flag and each operating point: its idc, level and tier, its
    operating_parameters_info() (5.5.5) and initial display delay."""
    display_delay = bits.u(1)  # initial_display_delay_present_flag
    points = []
    for _ in range(bits.u(5) + 1):  # operating_points_cnt_minus_1
        idc, level = bits.u(12), bits.u(5)
        if level > 7:
            bits.u(1)  # seq_tier
        model = seq.decoder_model and bool(bits.u(1))  # decoder_model_present_for_this_op
        if model:
            bits.u(2 * seq.buffer_delay_bits + 1)  # decoder and encoder buffer delays, low_delay_mode_flag
        if display_delay and bits.u(1):
            bits.u(4)  # initial_display_delay_minus_1
        points.append((idc, model))
    return tuple(points)


def _av1_coding_tools(bits: Bits, seq: _Av1Sequence) -> None:
    """After the frame size: frame id numbers, the enable_* tool flags, screen content tools,
    integer motion vectors and order hint bits (the rest of the header is not needed)."""
    if bits.u(1):  # frame_id_numbers_present_flag
        seq.delta_frame_id_bits = bits.u(4) + 2
        seq.frame_id_bits = bits.u(3) + 1 + seq.delta_frame_id_bits
    bits.u(3)  # use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    bits.u(4)  # enable_interintra_compound, _masked_compound, _warped_motion, _dual_filter
    order_hint = bits.u(1)
    if order_hint:
        bits.u(2)  # enable_jnt_comp, enable_ref_frame_mvs
    seq.screen_content_tools = _SELECT if bits.u(1) else bits.u(1)
    if seq.screen_content_tools:
        seq.integer_mv = _SELECT if bits.u(1) else bits.u(1)
    if order_hint:
        seq.order_hint_bits = bits.u(3) + 1


def _av1_frame_size(seq: _Av1Sequence, payload: bytes, temporal_id: int, spatial_id: int) -> Size | None:
    """The frame size a frame header gives (uncompressed_header(), 5.9.2, up to frame_size());
    None when the frame shows or copies an earlier frame's size."""
    bits = Bits(payload, "AV1 frame header")
    if bits.u(1):  # show_existing_frame
        return None
    frame_type, show_frame = bits.u(2), bits.u(1)
    intra = frame_type in (_KEY_FRAME, _INTRA_ONLY_FRAME)
    error_resilient, override = _av1_frame_flags(bits, seq, frame_type, show_frame)
    if seq.decoder_model and bits.u(1):  # buffer_removal_time_present_flag
        _av1_buffer_removal_times(bits, seq, temporal_id, spatial_id)
    all_frames = 0xFF
    refresh = all_frames if frame_type == _SWITCH_FRAME or (frame_type == _KEY_FRAME and show_frame) else bits.u(8)
    if (not intra or refresh != all_frames) and error_resilient and seq.order_hint_bits:
        bits.u(8 * seq.order_hint_bits)  # ref_order_hint[i]
    if not intra:
        _av1_frame_refs(bits, seq)
        if override and not error_resilient and _av1_found_ref(bits):
            return None  # the size of a reference frame, counted where that frame was
    if not override:
        return seq.max_width, seq.max_height
    return bits.u(seq.width_bits) + 1, bits.u(seq.height_bits) + 1


def _av1_frame_flags(bits: Bits, seq: _Av1Sequence, frame_type: int, show_frame: int) -> tuple[bool, bool]:
    """From temporal_point_info() to primary_ref_frame: (error_resilient_mode, frame_size_override_flag)."""
    intra = frame_type in (_KEY_FRAME, _INTRA_ONLY_FRAME)
    if show_frame and seq.decoder_model and not seq.equal_picture_interval:
        bits.u(seq.presentation_bits)  # temporal_point_info
    if not show_frame:
        bits.u(1)  # showable_frame
    error_resilient = frame_type == _SWITCH_FRAME or (frame_type == _KEY_FRAME and show_frame) or bits.u(1)
    bits.u(1)  # disable_cdf_update
    screen_content = bits.u(1) if seq.screen_content_tools == _SELECT else seq.screen_content_tools
    if screen_content and seq.integer_mv == _SELECT:
        bits.u(1)  # force_integer_mv
    bits.u(seq.frame_id_bits)  # current_frame_id
    override = frame_type == _SWITCH_FRAME or bits.u(1)  # frame_size_override_flag
    bits.u(seq.order_hint_bits)  # order_hint
    if not (intra or error_resilient):
        bits.u(3)  # primary_ref_frame
    return bool(error_resilient), bool(override)


def _av1_buffer_removal_times(bits: Bits, seq: _Av1Sequence, temporal_id: int, spatial_id: int) -> None:
    """buffer_removal_time of each operating point with a decoder model that contains the frame's layer."""
    for idc, model in seq.operating_points:
        in_layers = (idc >> temporal_id) & 1 and (idc >> (spatial_id + 8)) & 1
        if model and (idc == 0 or in_layers):
            bits.u(seq.buffer_removal_bits)


def _av1_frame_refs(bits: Bits, seq: _Av1Sequence) -> None:
    """frame_refs_short_signaling, then ref_frame_idx[i] and delta_frame_id_minus_1 of the 7 references."""
    short_signaling = seq.order_hint_bits and bits.u(1)
    if short_signaling:
        bits.u(6)  # last_frame_idx, gold_frame_idx
    for _ in range(7):
        if not short_signaling:
            bits.u(3)  # ref_frame_idx[i]
        bits.u(seq.delta_frame_id_bits)  # delta_frame_id_minus_1


def _av1_found_ref(bits: Bits) -> bool:
    """frame_size_with_refs() (5.9.7): whether one of the 7 references gives the frame's size."""
    return any(bits.u(1) for _ in range(7))  # found_ref, up to the first one set
