/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What linux/ip.h needs of asm/byteorder.h: which end of a byte its
 * bitfields (ihl, version) start from. The BPF target is either byte
 * order (bpfel, bpfeb); clang says which. Written for xdhcp; see
 * linux/types.h.
 */
#ifndef _ASM_BYTEORDER_H
#define _ASM_BYTEORDER_H

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define __LITTLE_ENDIAN_BITFIELD
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define __BIG_ENDIAN_BITFIELD
#else
#error "unknown byte order"
#endif

#endif /* _ASM_BYTEORDER_H */
