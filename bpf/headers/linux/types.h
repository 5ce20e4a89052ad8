/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fixed-width types of the kernel's uapi, for the BPF target only
 * (64-bit, either byte order). Written for xdhcp in place of the
 * distribution's linux/types.h, which pulls in asm/ headers of the host's
 * architecture (the reason the build once needed -I/usr/include/<triplet>).
 * bpf/headers/update.sh leaves this file alone.
 */
#ifndef __LINUX_TYPES_H
#define __LINUX_TYPES_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef signed short __s16;
typedef unsigned short __u16;
typedef signed int __s32;
typedef unsigned int __u32;
typedef signed long long __s64;
typedef unsigned long long __u64;

#define __bitwise
typedef __u16 __bitwise __le16;
typedef __u16 __bitwise __be16;
typedef __u32 __bitwise __le32;
typedef __u32 __bitwise __be32;
typedef __u64 __bitwise __le64;
typedef __u64 __bitwise __be64;
typedef __u16 __bitwise __sum16;
typedef __u32 __bitwise __wsum;

#define __aligned_u64 __u64 __attribute__((aligned(8)))
#define __aligned_be64 __be64 __attribute__((aligned(8)))
#define __aligned_le64 __le64 __attribute__((aligned(8)))

typedef unsigned int __poll_t;

#endif /* __LINUX_TYPES_H */
