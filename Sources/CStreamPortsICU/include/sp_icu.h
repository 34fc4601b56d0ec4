// A thin C layer over ICU's converters (ucnv). Its header uses plain C types only, so Swift
// modules never import ICU's headers (which clash with the ICU copy bundled in Foundation) nor
// ICU's version-renamed symbols (ucnv_open -> ucnv_open_72).
#ifndef SP_ICU_H
#define SP_ICU_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An ICU converter with the project's error callbacks installed, plus its pivot state.
typedef struct sp_converter sp_converter;

/// Error-handling modes (match Transcoders.ErrorMode).
enum {
    SP_MODE_RAISE = 0,
    SP_MODE_REPLACE = 1,
    SP_MODE_IGNORE = 2,
};

/// Results of a conversion step.
enum {
    SP_OK = 0,            ///< all input consumed (and flushed when asked)
    SP_TARGET_FULL = 1,   ///< output buffer full: call again with more room
    SP_ILLEGAL = 2,       ///< raise mode: an invalid or unmappable sequence, see sp_error
    SP_FAILURE = -1,      ///< any other ICU failure, see sp_error.icu_status
};

/// Converter families the Swift side converts natively (UTF-8, Latin-1, ASCII) or the bridge
/// handles specially (UTF-16 and UTF-32: errors start on a code unit).
enum {
    SP_TYPE_OTHER = 0,
    SP_TYPE_UTF8 = 1,
    SP_TYPE_LATIN1 = 2,
    SP_TYPE_ASCII = 3,
    SP_TYPE_UTF16 = 4,   ///< any UTF-16 or UTF-32 form
};

typedef struct sp_error {
    int32_t icu_status;       ///< the ICU UErrorCode
    int32_t invalid_length;   ///< number of offending bytes (decode) in `invalid`
    uint8_t invalid[32];      ///< the offending bytes (decode)
    int64_t invalid_back;     ///< decode: bytes from the first offending byte to the end of
                              ///< the input consumed so far (stream offset = consumed - back)
    uint32_t code_point;      ///< encode: the character that could not be encoded
} sp_error;

/// Opens a converter by ICU name or alias. Returns NULL and sets *status on failure.
sp_converter *sp_open(const char *name, int32_t mode, int32_t *status);
void sp_close(sp_converter *cnv);
/// Resets both directions (shift state, pending bytes, pivot).
void sp_reset(sp_converter *cnv);
/// The name of the converter ICU actually opened.
const char *sp_name(const sp_converter *cnv);
int32_t sp_type(const sp_converter *cnv);
/// 1 when the codec is stateless, the bytes 0x0A / 0x0D decode to LF / CR, no other byte does,
/// and 0x0A / 0x0D never occur inside a multi-byte character (so LF and CR can be found by
/// scanning raw bytes).
int32_t sp_is_ascii_line_safe(const sp_converter *cnv);

/// Decodes bytes to UTF-8. Advances *src and *dst. `flush` = 1 at end of input.
int32_t sp_decode(sp_converter *cnv, const uint8_t **src, const uint8_t *src_limit,
                  uint8_t **dst, uint8_t *dst_limit, int32_t flush, sp_error *err);

/// Decodes bytes to Unicode scalars; for each scalar, `offsets` receives the index (relative to
/// *src on entry) of its first byte, negative when it began in an earlier call.
int32_t sp_decode_scalars(sp_converter *cnv, const uint8_t **src, const uint8_t *src_limit,
                          uint32_t **dst, uint32_t *dst_limit, int32_t *offsets,
                          int32_t flush, sp_error *err);

/// Invalid sequences the decoder has replaced (replace mode) or skipped (ignore mode) since it
/// was opened; raise mode stops at them instead and does not count them.
int64_t sp_decode_errors(const sp_converter *cnv);

/// Bytes held by the decoder as the start of an incomplete character.
int32_t sp_decode_pending(const sp_converter *cnv);

/// Encodes UTF-8 (valid) to bytes. Advances *src and *dst. `flush` = 1 to end the stream
/// (stateful encodings then write their reset sequence). "UTF-16" and "UTF-32" write a BOM
/// before the stream's first character, then big-endian. After SP_ILLEGAL (raise mode) the
/// rest of this input is dropped, the codec's shift state is kept.
int32_t sp_encode(sp_converter *cnv, const uint8_t **src, const uint8_t *src_limit,
                  uint8_t **dst, uint8_t *dst_limit, int32_t flush, sp_error *err);

/// Whether the codec has U+FFFD (replace mode writes it for an unencodable character, else
/// '?'): probed once (a clone and a conversion) and remembered by this converter.
int32_t sp_can_encode_fffd(sp_converter *cnv);
/// Sets what sp_can_encode_fffd would probe (a caller that knows it per codec saves the probe
/// for every converter it opens).
void sp_set_can_encode_fffd(sp_converter *cnv, int32_t can);

/// The list of converters and their aliases.
int32_t sp_count_available(void);
const char *sp_available_name(int32_t index);
int32_t sp_count_aliases(const char *name);
const char *sp_alias(const char *name, int32_t index);

#ifdef __cplusplus
}
#endif
#endif
