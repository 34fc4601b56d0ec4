#include "sp_icu.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/ucnv.h>
#include <unicode/ucnv_err.h>
#include <unicode/ucnv_cb.h>
#include <unicode/utf16.h>

// UTF-16 pivot between a codec and UTF-8, in UChars: ICU's own internal chunk size. Each
// direction allocates its pivot on first use, so a connection that only reads (or an idle one
// that never converted) holds none: 2 KiB per direction used, not a fixed 16 KiB.
#define SP_PIVOT 1024

struct sp_converter {
    UConverter *cnv;           // decoding, and encoding unless `enc` differs
    UConverter *enc;           // encoding: `cnv`, or UTF-16BE / UTF-32BE for "UTF-16" / "UTF-32"
    UConverter *utf8;          // source side of encoding (UTF-8 -> codec)
    UConverter *utf8_out;      // target side of decoding (codec -> UTF-8)
    uint8_t bom[4];            // written at stream start when encoding "UTF-16" / "UTF-32"
    int32_t bom_length;
    int32_t bom_pending;
    int32_t mode;
    int32_t can_encode_fffd;    // -1 until known (sp_encode or sp_set_can_encode_fffd)
    int32_t in_callback;
    int32_t skipped;            // ignore mode: bytes the to-Unicode callback skipped
    int64_t decode_errors;      // invalid sequences the to-Unicode callbacks replaced or skipped
    uint32_t bad_code_point;
    // decode pivot (ucnv_convertEx state): UTF-16 produced by ICU, not yet written out
    UChar *dpivot;             // SP_PIVOT UChars, allocated on first use (ensure_pivot)
    UChar *dpivot_source, *dpivot_target;
    int32_t has_pending_error;
    sp_error pending_error;
    int64_t consumed;           // bytes consumed by ICU since the last reset
    // ICU's "UTF-32" keeps a stream's first bytes that may still be a BOM in private state,
    // where ucnv_toUCountPending does not count them: tracked here from the bytes themselves.
    int32_t utf32_bom;          // the converter is "UTF-32" (BOM detection)
    uint8_t head[4];            // the stream's first bytes
    int32_t bom_held;           // how many of them ICU holds as a possible BOM
    // encode pivot (ucnv_convertEx state)
    UChar *epivot;             // SP_PIVOT UChars, allocated on first use
    UChar *epivot_source, *epivot_target;
    int32_t encode_started;
};

/// Allocates a direction's pivot the first time it converts; 0 when out of memory.
static int ensure_pivot(UChar **pivot, UChar **source, UChar **target) {
    if (*pivot) return 1;
    *pivot = malloc(SP_PIVOT * sizeof(UChar));
    if (!*pivot) return 0;
    *source = *target = *pivot;
    return 1;
}

static const UChar kReplacement = 0xFFFD;

static void to_u_replace(const void *context, UConverterToUnicodeArgs *args,
                         const char *code_units, int32_t length,
                         UConverterCallbackReason reason, UErrorCode *status) {
    (void)code_units; (void)length;
    if (reason > UCNV_IRREGULAR) return;
    if (context) ((sp_converter *)context)->decode_errors++;   // NULL in the line-safety probe
    *status = U_ZERO_ERROR;
    ucnv_cbToUWriteUChars(args, &kReplacement, 1, 0, status);
}

static void to_u_skip(const void *context, UConverterToUnicodeArgs *args,
                      const char *code_units, int32_t length,
                      UConverterCallbackReason reason, UErrorCode *status) {
    (void)args; (void)code_units;
    if (reason > UCNV_IRREGULAR) return;
    ((sp_converter *)context)->skipped += length;
    ((sp_converter *)context)->decode_errors++;
    *status = U_ZERO_ERROR;
}

static void from_u_replace(const void *context, UConverterFromUnicodeArgs *args,
                           const UChar *code_units, int32_t length, UChar32 code_point,
                           UConverterCallbackReason reason, UErrorCode *status) {
    (void)code_units; (void)length; (void)code_point;
    if (reason > UCNV_IRREGULAR) return;
    sp_converter *c = (sp_converter *)context;
    *status = U_ZERO_ERROR;
    if (c->in_callback) {   // the substitute itself is unencodable: use the codec's own
        ucnv_cbFromUWriteSub(args, 0, status);
        return;
    }
    c->in_callback = 1;
    UChar sub[1] = { c->can_encode_fffd > 0 ? 0xFFFD : 0x3F };
    const UChar *p = sub;
    ucnv_cbFromUWriteUChars(args, &p, sub + 1, 0, status);
    c->in_callback = 0;
}

static void from_u_stop(const void *context, UConverterFromUnicodeArgs *args,
                        const UChar *code_units, int32_t length, UChar32 code_point,
                        UConverterCallbackReason reason, UErrorCode *status) {
    (void)args; (void)code_units; (void)length; (void)status;
    if (reason > UCNV_IRREGULAR) return;
    ((sp_converter *)context)->bad_code_point = (uint32_t)code_point;
}

static int32_t encodable(UConverter *cnv, UChar32 cp) {
    UErrorCode status = U_ZERO_ERROR;
    UConverter *probe = ucnv_clone(cnv, &status);
    if (U_FAILURE(status)) return 0;
    ucnv_setFromUCallBack(probe, UCNV_FROM_U_CALLBACK_STOP, NULL, NULL, NULL, &status);
    ucnv_setFallback(probe, 0);
    UChar in[2]; int32_t n = 0;
    U16_APPEND_UNSAFE(in, n, cp);
    char out[32];
    ucnv_fromUChars(probe, out, sizeof out, in, n, &status);
    ucnv_close(probe);
    return U_SUCCESS(status) ? 1 : 0;
}

sp_converter *sp_open(const char *name, int32_t mode, int32_t *status_out) {
    UErrorCode status = U_ZERO_ERROR;
    if (name == NULL || name[0] == 0) { *status_out = U_ILLEGAL_ARGUMENT_ERROR; return NULL; }
    sp_converter *c = calloc(1, sizeof *c);
    if (!c) { *status_out = U_MEMORY_ALLOCATION_ERROR; return NULL; }
    c->cnv = ucnv_open(name, &status);
    if (U_FAILURE(status)) { *status_out = status; free(c); return NULL; }
    status = U_ZERO_ERROR;
    // ICU's "UTF-16" / "UTF-32" write a BOM and then the platform's byte order; the rule here
    // is one BOM, then big-endian.
    c->enc = c->cnv;
    UConverterType type = ucnv_getType(c->cnv);
    if (type == UCNV_UTF16 || type == UCNV_UTF32) {
        int utf16 = type == UCNV_UTF16;
        c->enc = ucnv_open(utf16 ? "UTF-16BE" : "UTF-32BE", &status);
        if (U_FAILURE(status)) { *status_out = status; ucnv_close(c->cnv); free(c); return NULL; }
        static const uint8_t bom16[] = { 0xFE, 0xFF }, bom32[] = { 0x00, 0x00, 0xFE, 0xFF };
        c->bom_length = utf16 ? 2 : 4;
        memcpy(c->bom, utf16 ? bom16 : bom32, (size_t)c->bom_length);
        c->bom_pending = 1;
    }
    c->utf8 = ucnv_open("UTF-8", &status);
    if (U_FAILURE(status)) { *status_out = status; sp_close(c); return NULL; }
    c->utf8_out = ucnv_open("UTF-8", &status);
    if (U_FAILURE(status)) { *status_out = status; sp_close(c); return NULL; }
    c->mode = mode;
    c->utf32_bom = type == UCNV_UTF32;
    // Probing means a clone and a conversion: done once per codec by the caller
    // (sp_set_can_encode_fffd), else at the first encoding, never for a decoder.
    c->can_encode_fffd = -1;
    status = U_ZERO_ERROR;
    switch (mode) {
    case SP_MODE_RAISE:
        ucnv_setToUCallBack(c->cnv, UCNV_TO_U_CALLBACK_STOP, NULL, NULL, NULL, &status);
        ucnv_setFromUCallBack(c->enc, from_u_stop, c, NULL, NULL, &status);
        break;
    case SP_MODE_IGNORE:
        ucnv_setToUCallBack(c->cnv, to_u_skip, c, NULL, NULL, &status);
        ucnv_setFromUCallBack(c->enc, UCNV_FROM_U_CALLBACK_SKIP, NULL, NULL, NULL, &status);
        break;
    default:
        ucnv_setToUCallBack(c->cnv, to_u_replace, c, NULL, NULL, &status);
        ucnv_setFromUCallBack(c->enc, from_u_replace, c, NULL, NULL, &status);
        break;
    }
    if (U_FAILURE(status)) { *status_out = status; sp_close(c); return NULL; }
    c->epivot_source = c->epivot_target = c->epivot;
    c->dpivot_source = c->dpivot_target = c->dpivot;
    *status_out = 0;
    return c;
}

void sp_close(sp_converter *c) {
    if (!c) return;
    if (c->enc && c->enc != c->cnv) ucnv_close(c->enc);
    if (c->cnv) ucnv_close(c->cnv);
    if (c->utf8) ucnv_close(c->utf8);
    if (c->utf8_out) ucnv_close(c->utf8_out);
    free(c->dpivot);
    free(c->epivot);
    free(c);
}

void sp_reset(sp_converter *c) {
    ucnv_reset(c->cnv);
    if (c->enc != c->cnv) ucnv_reset(c->enc);
    ucnv_reset(c->utf8);
    ucnv_reset(c->utf8_out);
    c->bom_pending = c->bom_length > 0;
    c->dpivot_source = c->dpivot_target = c->dpivot;
    c->has_pending_error = 0;
    c->consumed = 0;
    c->bom_held = 0;
    c->epivot_source = c->epivot_target = c->epivot;
    c->encode_started = 0;
}

const char *sp_name(const sp_converter *c) {
    UErrorCode status = U_ZERO_ERROR;
    const char *name = ucnv_getName(c->cnv, &status);
    return U_SUCCESS(status) ? name : "";
}

int32_t sp_type(const sp_converter *c) {
    switch (ucnv_getType(c->cnv)) {
    case UCNV_UTF8: return SP_TYPE_UTF8;
    case UCNV_LATIN_1: return SP_TYPE_LATIN1;
    case UCNV_US_ASCII: return SP_TYPE_ASCII;
    case UCNV_UTF16_BigEndian: case UCNV_UTF16_LittleEndian: case UCNV_UTF16:
    case UCNV_UTF32_BigEndian: case UCNV_UTF32_LittleEndian: case UCNV_UTF32:
        return SP_TYPE_UTF16;
    default:
        return SP_TYPE_OTHER;
    }
}

/// Decodes `len` bytes in one go with a STOP callback; returns the UChar count or -1.
static int32_t probe_decode(UConverter *probe, const char *bytes, int32_t len, UChar *out, int32_t cap) {
    UErrorCode status = U_ZERO_ERROR;
    ucnv_resetToUnicode(probe);
    int32_t n = ucnv_toUChars(probe, out, cap, bytes, len, &status);
    return U_SUCCESS(status) ? n : -1;
}

int32_t sp_is_ascii_line_safe(const sp_converter *c) {
    int32_t type = ucnv_getType(c->cnv);
    if (type != UCNV_SBCS && type != UCNV_DBCS && type != UCNV_MBCS &&
        type != UCNV_UTF8 && type != UCNV_LATIN_1 && type != UCNV_US_ASCII) return 0;
    UErrorCode status = U_ZERO_ERROR;
    UConverter *probe = ucnv_clone(c->cnv, &status);
    if (U_FAILURE(status)) return 0;
    ucnv_setToUCallBack(probe, to_u_replace, NULL, NULL, NULL, &status);
    int32_t safe = 1;
    UChar out[16];
    // The bytes 0x0A and 0x0D are LF and CR, and no other byte is. (IBM's tables swap a few
    // other controls, 0x1A / 0x1C / 0x7F, which does not matter for line ends.)
    for (int b = 0; b < 0x100 && safe; b++) {
        char in[1] = { (char)b };
        int32_t n = probe_decode(probe, in, 1, out, 16);
        int is_line_end = b == 0x0A || b == 0x0D;
        if (is_line_end && (n != 1 || out[0] != b)) safe = 0;
        for (int32_t k = 0; k < n && !is_line_end; k++)
            if (out[k] == 0x0A || out[k] == 0x0D) safe = 0;
    }
    // A line end byte after any lead byte (or lead + one byte) must still be a line end.
    for (int lead = 0x80; lead < 0x100 && safe; lead++) {
        for (int mid = -1; mid < 0x100 && safe; mid++) {
            if (mid >= 0 && mid < 0x80) continue;
            for (int k = 0; k < 2 && safe; k++) {
                char in[3]; int32_t len = 0;
                in[len++] = (char)lead;
                if (mid >= 0) in[len++] = (char)mid;
                in[len++] = k ? 0x0D : 0x0A;
                int32_t n = probe_decode(probe, in, len, out, 16);
                if (n < 1 || out[n - 1] != (UChar)(k ? 0x0D : 0x0A)) safe = 0;
            }
        }
    }
    ucnv_close(probe);
    return safe;
}

static int is_conversion_error(UErrorCode status) {
    return status == U_INVALID_CHAR_FOUND || status == U_ILLEGAL_CHAR_FOUND ||
           status == U_TRUNCATED_CHAR_FOUND || status == U_ILLEGAL_ESCAPE_SEQUENCE ||
           status == U_UNSUPPORTED_ESCAPE_SEQUENCE;
}

int32_t sp_decode_pending(const sp_converter *c);

/// Records the bytes from `from` that ICU consumed beyond `before` (bytes since the reset) and
/// updates `bom_held`: while no more than 3 bytes have come and they start 00 00 FE FF or
/// FF FE 00 00, ICU's "UTF-32" holds them all, until a flush ends the stream.
static void track_bom_prefix(sp_converter *c, const char *from, int64_t before, int flushed) {
    if (!c->utf32_bom) return;
    for (int64_t i = before; i < c->consumed && i < 4; i++) c->head[i] = (uint8_t)from[i - before];
    static const uint8_t be[4] = { 0x00, 0x00, 0xFE, 0xFF }, le[4] = { 0xFF, 0xFE, 0x00, 0x00 };
    size_t n = (size_t)c->consumed;
    c->bom_held = !flushed && n < 4 && (memcmp(c->head, be, n) == 0 || memcmp(c->head, le, n) == 0) ? (int32_t)n : 0;
}

static void record_decode_error(sp_converter *c, UErrorCode status, sp_error *e) {
    UErrorCode s2 = U_ZERO_ERROR;
    char bytes[32]; int8_t len = sizeof bytes;
    ucnv_getInvalidChars(c->cnv, bytes, &len, &s2);
    if (U_FAILURE(s2)) len = 0;
    memset(e, 0, sizeof *e);
    e->icu_status = status;
    e->invalid_length = len;
    memcpy(e->invalid, bytes, (size_t)len);
    // Where the offending sequence ends, in bytes since the reset: bytes ICU consumed after it
    // and holds for replay (a lead byte's would-be trail bytes from an earlier chunk) come
    // after it in the stream.
    int64_t end = c->consumed - sp_decode_pending(c);
    // ICU's UTF-16/32 converters may also hold the first byte of the unit after an unpaired
    // surrogate where ucnv_toUCountPending does not see it; their errors start on a unit.
    if (sp_type(c) == SP_TYPE_UTF16 && len > 0) {
        int64_t unit = ucnv_getMinCharSize(c->cnv);
        int64_t start = end - len;
        if (unit > 1 && start % unit != 0) end -= start % unit;
    }
    e->invalid_back = c->consumed - end + len;
}

int32_t sp_decode(sp_converter *c, const uint8_t **src, const uint8_t *src_limit,
                  uint8_t **dst, uint8_t *dst_limit, int32_t flush, sp_error *err) {
    if (!ensure_pivot(&c->dpivot, &c->dpivot_source, &c->dpivot_target)) {
        memset(err, 0, sizeof *err);
        err->icu_status = U_MEMORY_ALLOCATION_ERROR;
        return SP_FAILURE;
    }
    for (;;) {
        if (c->has_pending_error) {
            // First write out the text before the offending bytes (ucnv_convertEx stops with
            // it still in the pivot), through the UTF-8 converter, which may hold a lead
            // surrogate from the previous pivot.
            UErrorCode status = U_ZERO_ERROR;
            char *d = (char *)*dst;
            const UChar *ps = c->dpivot_source;
            ucnv_fromUnicode(c->utf8_out, &d, (const char *)dst_limit, &ps, c->dpivot_target, NULL,
                             0, &status);
            *dst = (uint8_t *)d;
            c->dpivot_source = (UChar *)ps;
            if (status == U_BUFFER_OVERFLOW_ERROR) return SP_TARGET_FULL;
            c->dpivot_source = c->dpivot_target = c->dpivot;
            *err = c->pending_error;
            c->has_pending_error = 0;
            if (U_FAILURE(status)) { err->icu_status = status; return SP_FAILURE; }
            return SP_ILLEGAL;
        }
        // Straight to UTF-8: ICU converts table-based codecs directly (toUTF8) and pivots
        // through UTF-16 otherwise.
        const char *s = (const char *)*src;
        char *d = (char *)*dst;
        UErrorCode status = U_ZERO_ERROR;
        ucnv_convertEx(c->utf8_out, c->cnv, &d, (const char *)dst_limit, &s, (const char *)src_limit,
                       c->dpivot, &c->dpivot_source, &c->dpivot_target, c->dpivot + SP_PIVOT,
                       0, (UBool)(flush != 0), &status);
        int64_t before = c->consumed;
        c->consumed += s - (const char *)*src;
        track_bom_prefix(c, (const char *)*src, before, flush && status != U_BUFFER_OVERFLOW_ERROR);
        *src = (const uint8_t *)s;
        *dst = (uint8_t *)d;
        if (status == U_BUFFER_OVERFLOW_ERROR) return SP_TARGET_FULL;
        if (U_FAILURE(status)) {
            if (!is_conversion_error(status)) { memset(err, 0, sizeof *err); err->icu_status = status; return SP_FAILURE; }
            record_decode_error(c, status, &c->pending_error);
            c->has_pending_error = 1;
            continue;
        }
        return SP_OK;
    }
}

int32_t sp_can_encode_fffd(sp_converter *c) {
    if (c->can_encode_fffd < 0) c->can_encode_fffd = encodable(c->enc, 0xFFFD);
    return c->can_encode_fffd;
}

void sp_set_can_encode_fffd(sp_converter *c, int32_t can) {
    c->can_encode_fffd = can ? 1 : 0;
}

int64_t sp_decode_errors(const sp_converter *c) {
    return c->decode_errors;
}

/// ISO-2022 (JP, KR, CN): where each of the `n` UTF-16 units decoded from `bytes` replayed
/// bytes starts, from 0, into `offsets`; 1 when the lengths fit, 0 when they are ambiguous
/// (the caller then places them one byte apart). ASCII and half-width katakana come from one
/// byte, other characters from two; a U+FFFD from one or two, which is what is searched: the
/// one assignment of those lengths whose total is `bytes`.
/// The bytes an ISO-2022 character other than U+FFFD came from.
static int32_t iso2022_length(UChar u) {
    return u < 0x80 || (u >= 0xFF61 && u <= 0xFF9F) ? 1 : 2;
}

static int iso2022_replay_offsets(const UChar *units, int32_t n, int32_t bytes, int32_t *offsets) {
    int32_t fixed = 0, k = 0;
    for (int32_t i = 0; i < n; i++) {
        UChar u = units[i];
        if (U16_IS_SURROGATE(u)) return 0;
        if (u == 0xFFFD) k++;
        else fixed += iso2022_length(u);
    }
    int found = -1;
    for (int mask = 0; mask < (1 << k); mask++) {
        int32_t total = fixed;
        for (int j = 0; j < k; j++) total += (mask >> j & 1) ? 2 : 1;
        if (total != bytes) continue;
        if (found >= 0) return 0;  // two assignments fit: ambiguous
        found = mask;
    }
    if (found < 0) return 0;
    int32_t at = 0, j = 0;
    for (int32_t i = 0; i < n; i++) {
        offsets[i] = at;
        UChar u = units[i];
        at += u == 0xFFFD ? ((found >> j++ & 1) ? 2 : 1) : iso2022_length(u);
    }
    return 1;
}

int32_t sp_decode_scalars(sp_converter *c, const uint8_t **src, const uint8_t *src_limit,
                          uint32_t **dst, uint32_t *dst_limit, int32_t *offsets,
                          int32_t flush, sp_error *err) {
    // Converts slices small enough that ICU never overflows into its own buffer, so every
    // scalar's first byte is known.
    enum { UNITS = 1024, SLICE = 384 };
    UChar units[UNITS];
    int32_t unit_offsets[UNITS];
    const uint8_t *start = *src;
    uint32_t *dst_start = *dst;
    for (;;) {
        int64_t room = dst_limit - *dst;
        if (room < 4) return SP_TARGET_FULL;
        UErrorCode status = U_ZERO_ERROR;
        int32_t pending = sp_decode_pending(c);
        int64_t slice = src_limit - *src;
        int last = 1;
        // While ICU holds the start of a character, feed one byte at a time: ICU's UTF-8
        // converter shifts the offsets of every unit after a completed partial character.
        int64_t max_slice = pending > 0 ? 1 : room / 2 < SLICE ? room / 2 : SLICE;
        if (slice > max_slice) { slice = max_slice; last = 0; }
        if (slice <= 0 && (!flush || !last)) return slice < (src_limit - *src) ? SP_TARGET_FULL : SP_OK;
        int32_t base = (int32_t)(*src - start);
        UChar *t = units;
        const char *s = (const char *)*src;
        status = U_ZERO_ERROR;
        c->skipped = 0;
        ucnv_toUnicode(c->cnv, &t, units + UNITS, &s, s + slice, unit_offsets,
                       (UBool)(flush && last), &status);
        int32_t taken = (int32_t)(s - (const char *)*src);
        int64_t before = c->consumed;
        c->consumed += taken;
        track_bom_prefix(c, (const char *)*src, before, flush && last && status != U_BUFFER_OVERFLOW_ERROR);
        *src = (const uint8_t *)s;
        int32_t n = (int32_t)(t - units);
        uint32_t *d = *dst;
        // Held bytes still in the first character: not those skipped (ignore mode).
        int32_t held = pending > c->skipped ? pending - c->skipped : 0;
        // ISO-2022: characters replayed from held bytes get no usable offset from ICU, and
        // they are not one byte each (ESC $ ( held, then Z: U+FFFD for ESC, one double-byte
        // character for "$(", U+FFFD for Z). Their lengths are inferred instead.
        int32_t replay[8];
        int replayed = held > 0 && n <= 8 && ucnv_getType(c->cnv) == UCNV_ISO_2022
            ? iso2022_replay_offsets(units, n, held + taken - sp_decode_pending(c), replay) : 0;
        int32_t previous = base - held - 1, previous_length = 1;
        // Units of replayed bytes are placed one after another: one byte each, a code unit
        // each in UTF-16 and UTF-32.
        int32_t unit = sp_type(c) == SP_TYPE_UTF16 ? ucnv_getMinCharSize(c->cnv) : 1;
        for (int32_t i = 0; i < n && d < dst_limit;) {
            uint32_t cp = units[i];
            // The first character after held bytes starts with those not skipped (ICU's UTF-8
            // converter reports offset 0 for it, others -1); later units from an earlier call
            // (replayed bytes) follow one another. ICU's offsets are trusted only inside this
            // slice and in order: after replaying held bytes it computes the next ones from the
            // distance between its replay buffer and ours, which can be anything.
            int32_t icu = unit_offsets[i], off;
            if (i == 0 && held > 0) off = base - held;
            else if (replayed) off = base - held + replay[i];
            else if (icu < 0 || icu >= taken || base + icu < previous)
                off = previous + previous_length < base ? previous + previous_length : previous > base ? previous : base;
            else off = base + icu;
            if (unit > 1) {
                // UTF-16 and UTF-32 characters start on a code unit from the reset (ICU may hold
                // a unit's first byte outside its pending count after an unpaired surrogate).
                int64_t from_reset = before + (off - base);
                if (from_reset > 0) off -= (int32_t)(from_reset % unit);
                if (off < previous) off = previous;
            }
            previous = off;
            previous_length = unit;
            if (U16_IS_LEAD(units[i]) && i + 1 < n && U16_IS_TRAIL(units[i + 1])) {
                cp = U16_GET_SUPPLEMENTARY(units[i], units[i + 1]);
                if (unit == 2) previous_length = 4;
                i += 2;
            } else {
                if (U16_IS_SURROGATE(units[i])) cp = 0xFFFD;
                i += 1;
            }
            offsets[d - dst_start] = off;
            *d++ = cp;
        }
        *dst = d;
        if (U_FAILURE(status) && status != U_BUFFER_OVERFLOW_ERROR) {
            if (!is_conversion_error(status)) { memset(err, 0, sizeof *err); err->icu_status = status; return SP_FAILURE; }
            record_decode_error(c, status, err);
            return SP_ILLEGAL;
        }
        if (last) return SP_OK;
    }
}

int32_t sp_decode_pending(const sp_converter *c) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t n = ucnv_toUCountPending(c->cnv, &status);
    if (U_FAILURE(status) || n < 0) n = 0;
    return n > c->bom_held ? n : c->bom_held;
}

int32_t sp_encode(sp_converter *c, const uint8_t **src, const uint8_t *src_limit,
                  uint8_t **dst, uint8_t *dst_limit, int32_t flush, sp_error *err) {
    if (!ensure_pivot(&c->epivot, &c->epivot_source, &c->epivot_target)) {
        memset(err, 0, sizeof *err);
        err->icu_status = U_MEMORY_ALLOCATION_ERROR;
        return SP_FAILURE;
    }
    if (c->can_encode_fffd < 0 && c->mode == SP_MODE_REPLACE) c->can_encode_fffd = encodable(c->enc, 0xFFFD);
    if (c->encode_started == 0) c->bom_pending = c->bom_length > 0;
    if (c->bom_pending && *src < src_limit) {
        if (dst_limit - *dst < c->bom_length) return SP_TARGET_FULL;
        memcpy(*dst, c->bom, (size_t)c->bom_length);
        *dst += c->bom_length;
        c->bom_pending = 0;
    }
    const char *s = (const char *)*src;
    char *d = (char *)*dst;
    UErrorCode status = U_ZERO_ERROR;
    c->bad_code_point = 0;
    ucnv_convertEx(c->enc, c->utf8, &d, (char *)dst_limit, &s, (const char *)src_limit,
                   c->epivot, &c->epivot_source, &c->epivot_target, c->epivot + SP_PIVOT,
                   (UBool)(c->encode_started == 0), (UBool)(flush != 0), &status);
    c->encode_started = 1;
    *src = (const uint8_t *)s;
    *dst = (uint8_t *)d;
    if (status == U_BUFFER_OVERFLOW_ERROR) return SP_TARGET_FULL;
    if (U_FAILURE(status)) {
        memset(err, 0, sizeof *err);
        err->icu_status = status;
        err->code_point = c->bad_code_point;
        // The rest of this input is dropped by the caller: forget what ICU has read of it
        // (UTF-8 state and pivot), but keep the codec's shift state and the stream's BOM.
        ucnv_resetToUnicode(c->utf8);
        c->epivot_source = c->epivot_target = c->epivot;
        return is_conversion_error(status) ? SP_ILLEGAL : SP_FAILURE;
    }
    if (flush) c->encode_started = 0;
    return SP_OK;
}

int32_t sp_count_available(void) { return ucnv_countAvailable(); }
const char *sp_available_name(int32_t index) { return ucnv_getAvailableName(index); }

int32_t sp_count_aliases(const char *name) {
    UErrorCode status = U_ZERO_ERROR;
    int32_t n = ucnv_countAliases(name, &status);
    return U_SUCCESS(status) ? n : 0;
}

const char *sp_alias(const char *name, int32_t index) {
    UErrorCode status = U_ZERO_ERROR;
    const char *alias = ucnv_getAlias(name, (uint16_t)index, &status);
    return U_SUCCESS(status) ? alias : NULL;
}
