// Raw ICU for TranscoderBench: what Transcoders is measured against, in the same run. Plain C
// types only, so Swift never sees ICU's headers (see Sources/CStreamPortsICU).
#ifndef ICU_REFERENCE_H
#define ICU_REFERENCE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Plain ucnv_convertEx of a whole buffer to UTF-8 (or from UTF-8 when `to_utf8` is 0), fed in
/// pieces of `chunk` bytes, with ICU's default callbacks. Returns the bytes written, or -1.
int64_t sp_reference_convert(const char *name, int32_t to_utf8, const uint8_t *src,
                             int64_t src_length, uint8_t *dst, int64_t dst_capacity,
                             int64_t chunk);

#ifdef __cplusplus
}
#endif
#endif
