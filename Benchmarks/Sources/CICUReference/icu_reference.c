#include "icu_reference.h"

#include <unicode/ucnv.h>

#define PIVOT 4096   // ICU at its best: a larger pivot than the bridge's 1024 (Sources/CStreamPortsICU/sp_icu.c)

int64_t sp_reference_convert(const char *name, int32_t to_utf8, const uint8_t *src,
                             int64_t src_length, uint8_t *dst, int64_t dst_capacity,
                             int64_t chunk) {
    UErrorCode status = U_ZERO_ERROR;
    UConverter *cnv = ucnv_open(name, &status);
    UConverter *utf8 = ucnv_open("UTF-8", &status);
    if (U_FAILURE(status)) { if (cnv) ucnv_close(cnv); if (utf8) ucnv_close(utf8); return -1; }
    UChar pivot[PIVOT];
    UChar *ps = pivot, *pt = pivot;
    char *d = (char *)dst, *d_limit = (char *)dst + dst_capacity;
    const char *s = (const char *)src, *end = (const char *)src + src_length;
    int reset = 1;
    while (U_SUCCESS(status)) {
        const char *s_limit = end - s > chunk ? s + chunk : end;
        int flush = s_limit == end;
        if (to_utf8)
            ucnv_convertEx(utf8, cnv, &d, d_limit, &s, s_limit, pivot, &ps, &pt, pivot + PIVOT,
                           (UBool)reset, (UBool)flush, &status);
        else
            ucnv_convertEx(cnv, utf8, &d, d_limit, &s, s_limit, pivot, &ps, &pt, pivot + PIVOT,
                           (UBool)reset, (UBool)flush, &status);
        reset = 0;
        if (flush) break;
    }
    ucnv_close(cnv); ucnv_close(utf8);
    return U_SUCCESS(status) ? (int64_t)(d - (char *)dst) : -1;
}
