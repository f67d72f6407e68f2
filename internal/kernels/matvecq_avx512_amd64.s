//go:build amd64 && !purego

#include "textflag.h"

// Integer MatVec (decode) with AVX-512 VNNI, EVEX-encoded on Y registers
// (AVX512VL): the mvq*x4 kernels' frame and results, fewer instructions.
// Per row and block the 32 codes are widened to bytes as before and one
// VPDPBUSD (u8 codes · s8 q, groups of four summed into int32, no int16
// saturation) replaces VPMADDUBSW + VPMADDWD; a type's offset (Q4_0 −8,
// Q5_0 −16, Q8_0 −128 after the sign flip) starts the accumulator at
// −off·Σq, computed once per block for the four rows. Q5's fifth bits are
// a mask register: one masked byte add instead of a six-instruction
// expansion.
//
// The four rows' eight int32 lanes are then summed to one exact int32 per
// row (|Σ| < 2^24, so its float32 is exact too) and scaled together:
// acc += float32(isum)·(d·dx) [+ m·sx], with d, m converted by VCVTPH2PS.
// That is the generic twin's arithmetic in its order, so these kernels give
// its results bit for bit, and one scaling serves four rows.
//
// Registers: SI row 0, BX the row stride, R9 3·stride (rows 1..3 are
// (SI)(BX*1), (SI)(BX*2), (SI)(R9*1)), R12 row 8 (prefetch); DI q; DX the
// (dx, sx) pairs; CX blocks left. Y0..Y3 the rows' int32 lanes; Y4 q; Y5
// −off·Σq lanes (X5 sx for Q4_1, Q5_1); Y6 0x0f bytes; Y7 the offset
// bytes; Y8, Y9 codes; Y16 the nibble shifts; X10, X11 scales; Y12 zero; Y13 0x10 bytes; X14 the
// four row sums; X15 dx.

#define MVQSETUPV \
	MOVQ w+0(FP), SI; \
	MOVQ stride+8(FP), BX; \
	MOVQ q+16(FP), DI; \
	MOVQ ds+24(FP), DX; \
	MOVQ n+32(FP), CX; \
	LEAQ (BX)(BX*2), R9; \
	LEAQ (SI)(BX*8), R12; \
	VPXORD Z12, Z12, Z12; \
	VXORPS X14, X14, X14; \
	MOVL $0x0f0f0f0f, AX; \
	VPBROADCASTD AX, Z6; \
	VMOVDQU64 mvvNibShift<>(SB), Z16; \
	MOVL $0xff00, AX; \
	KMOVW AX, K2

// OFFSETV(B): Z7 = bytes B; the four-byte pattern B is the type's offset.
#define OFFSETV(B) \
	MOVL B, AX; \
	VPBROADCASTD AX, Z7

// BLOCKV loads the block's q (into both halves of Z4) and dx.
#define BLOCKV \
	VBROADCASTI64X4 (DI), Z4; \
	VBROADCASTSS (DX), X15

// CORRV: Z5 = −off·(sums of four q), off the bytes of Z7.
#define CORRV \
	VPXORD Z5, Z5, Z5; \
	VPDPBUSD Z4, Z7, Z5; \
	VPSUBD Z5, Z12, Z5

// NIBV(A0, A1, C): C = the 32 nibble codes of the 16 bytes at A0, in
// element order (low nibbles then high nibbles), and above them those of A1.
#define NIBV(A0, A1, C) \
	VBROADCASTI32X4 A0, C; \
	VBROADCASTI32X4 A1, K2, C; \
	VPSRLVQ Z16, C, C; \
	VPANDD Z6, C, C

// HIV(A0, A1, C): adds 0x10 to code j of C where bit j of the u32 at A0
// is set, and to code 32+j where bit j at A1 is.
#define HIV(A0, A1, C) \
	KMOVD A0, K1; \
	KMOVD A1, K3; \
	KUNPCKDQ K1, K3, K1; \
	VPADDB Z13, C, K1, C

// DOTV(C, ACC): ACC = Z5 + codes(C)·q lanes; DOTNV without the offset.
#define DOTV(C, ACC) \
	VMOVDQA64 Z5, ACC; \
	VPDPBUSD Z4, C, ACC

#define DOTNV(C, ACC) \
	VPXORD ACC, ACC, ACC; \
	VPDPBUSD Z4, C, ACC

// HALVES(OFF, X): the low four floats of X = the halves at OFF of the four
// rows, exactly.
#define HALVES(OFF, X) \
	VPBROADCASTW OFF(SI), X; \
	VPINSRW $1, OFF(SI)(BX*1), X, X; \
	VPINSRW $2, OFF(SI)(BX*2), X, X; \
	VPINSRW $3, OFF(SI)(R9*1), X, X; \
	VCVTPH2PS X, X

// SUMV: X14 += float32(row sums)·(d·dx), d the halves at 0; the rows'
// lanes are Z0 (rows 0, 1) and Z2 (rows 2, 3).
#define SUMV \
	VPUNPCKLDQ Z2, Z0, Z8; \
	VPUNPCKHDQ Z2, Z0, Z0; \
	VPADDD Z8, Z0, Z0; \
	VPSHUFD $0x4e, Z0, Z8; \
	VPADDD Z8, Z0, Z0; \
	VSHUFI64X2 $0xb1, Z0, Z0, Z8; \
	VPADDD Z8, Z0, Z0; \
	VEXTRACTI32X4 $2, Z0, X1; \
	VPUNPCKLDQ X1, X0, X0; \
	VCVTDQ2PS X0, X0; \
	HALVES(0, X10); \
	VMULPS X15, X10, X10; \
	VMULPS X10, X0, X0; \
	VADDPS X0, X14, X14

// MSUMV: X14 += m·sx, m the halves at 2.
#define MSUMV \
	HALVES(2, X11); \
	VMULPS X5, X11, X11; \
	VADDPS X11, X14, X14

// ADVANCEV(BYTES) prefetches the rows two passes ahead and steps a block.
#define ADVANCEV(BYTES) \
	PREFETCHT0 (R12); \
	PREFETCHT0 (R12)(BX*1); \
	PREFETCHT0 (R12)(BX*2); \
	PREFETCHT0 (R12)(R9*1); \
	ADDQ $BYTES, SI; \
	ADDQ $BYTES, R12; \
	ADDQ $32, DI; \
	ADDQ $8, DX

#define FINISHV \
	MOVQ y+40(FP), AX; \
	VMOVUPS X14, (AX); \
	VZEROUPPER; \
	RET

// Q8_0: half d; i8 qs[32]. w XOR 0x80 = w+128 is unsigned; Z5 takes the
// 128·Σq back off.
#define Q80ROWSV(A0, A1, C, ACC) \
	VMOVDQU64 A0, Y8; \
	VINSERTI64X4 $1, A1, C, C; \
	VPXORD Z7, C, C; \
	DOTV(C, ACC)

// func mvqQ8_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ8_0x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	OFFSETV($0x80808080)
	TESTQ CX, CX
	JE    q80done

q80loop:
	BLOCKV
	CORRV
	Q80ROWSV(2(SI), 2(SI)(BX*1), Z8, Z0)
	Q80ROWSV(2(SI)(BX*2), 2(SI)(R9*1), Z8, Z2)
	SUMV
	ADVANCEV(34)
	DECQ CX
	JNE  q80loop

q80done:
	FINISHV

// Q4_0: half d; u8 qs[16]; value = nibble − 8.
#define Q40ROWSV(A0, A1, C, ACC) \
	NIBV(A0, A1, C); \
	DOTV(C, ACC)

// func mvqQ4_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ4_0x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	OFFSETV($0x08080808)
	TESTQ CX, CX
	JE    q40done

q40loop:
	BLOCKV
	CORRV
	Q40ROWSV(2(SI), 2(SI)(BX*1), Z8, Z0)
	Q40ROWSV(2(SI)(BX*2), 2(SI)(R9*1), Z9, Z2)
	SUMV
	ADVANCEV(18)
	DECQ CX
	JNE  q40loop

q40done:
	FINISHV

// Q4_1: half d; half m; u8 qs[16]; value = nibble·d + m.
#define Q41ROWSV(A0, A1, C, ACC) \
	NIBV(A0, A1, C); \
	DOTNV(C, ACC)

// func mvqQ4_1x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ4_1x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	TESTQ CX, CX
	JE    q41done

q41loop:
	BLOCKV
	VBROADCASTSS 4(DX), X5
	Q41ROWSV(4(SI), 4(SI)(BX*1), Z8, Z0)
	Q41ROWSV(4(SI)(BX*2), 4(SI)(R9*1), Z9, Z2)
	SUMV
	MSUMV
	ADVANCEV(20)
	DECQ CX
	JNE  q41loop

q41done:
	FINISHV

// Q5_0: half d; u32 qh; u8 qs[16]; value = (nibble | bit<<4) − 16.
#define Q50ROWSV(B0, B1, C, ACC) \
	NIBV(6 B0, 6 B1, C); \
	HIV(2 B0, 2 B1, C); \
	DOTV(C, ACC)

// func mvqQ5_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ5_0x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	OFFSETV($0x10101010)
	VMOVDQA64 Z7, Z13
	TESTQ CX, CX
	JE    q50done

q50loop:
	BLOCKV
	CORRV
	Q50ROWSV((SI), (SI)(BX*1), Z8, Z0)
	Q50ROWSV((SI)(BX*2), (SI)(R9*1), Z9, Z2)
	SUMV
	ADVANCEV(22)
	DECQ CX
	JNE  q50loop

q50done:
	FINISHV

// Q5_1: half d; half m; u32 qh; u8 qs[16]; value = (nibble | bit<<4)·d + m.
#define Q51ROWSV(B0, B1, C, ACC) \
	NIBV(8 B0, 8 B1, C); \
	HIV(4 B0, 4 B1, C); \
	DOTNV(C, ACC)

// func mvqQ5_1x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ5_1x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	MOVL $0x10101010, AX
	VPBROADCASTD AX, Z13
	TESTQ CX, CX
	JE    q51done

q51loop:
	BLOCKV
	VBROADCASTSS 4(DX), X5
	Q51ROWSV((SI), (SI)(BX*1), Z8, Z0)
	Q51ROWSV((SI)(BX*2), (SI)(R9*1), Z9, Z2)
	SUMV
	MSUMV
	ADVANCEV(24)
	DECQ CX
	JNE  q51loop

q51done:
	FINISHV

DATA mvvNibShift<>+0(SB)/8, $0
DATA mvvNibShift<>+8(SB)/8, $0
DATA mvvNibShift<>+16(SB)/8, $4
DATA mvvNibShift<>+24(SB)/8, $4
DATA mvvNibShift<>+32(SB)/8, $0
DATA mvvNibShift<>+40(SB)/8, $0
DATA mvvNibShift<>+48(SB)/8, $4
DATA mvvNibShift<>+56(SB)/8, $4
GLOBL mvvNibShift<>(SB), RODATA|NOPTR, $64
