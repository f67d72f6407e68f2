//go:build amd64 && !purego

// AVX2 + FMA + F16C kernels. Each is the twin of a Go function in
// generic.go; Go code in kernels_amd64.go drives the loops, handles the
// column and row tails, and checks the sizes before calling in.
//
// Register use: AX BX CX DX SI DI R8-R13 only (R14 is g, R15 is left
// alone for dynamic linking, BP is the frame pointer).

#include "textflag.h"

// MVSETUP loads the common arguments: SI..R11 the four rows, DI x, CX the
// count, DX y.
#define MVSETUP \
	MOVQ w+0(FP), SI; \
	MOVQ stride+8(FP), BX; \
	MOVQ x+16(FP), DI; \
	MOVQ n+24(FP), CX; \
	MOVQ y+32(FP), DX; \
	LEAQ (SI)(BX*1), R9; \
	LEAQ (R9)(BX*1), R10; \
	LEAQ (R10)(BX*1), R11

// HSUM4 reduces the four vectors A, B, C, D (clobbered) to the four floats
// [ΣA, ΣB, ΣC, ΣD] in the xmm half of A's register XA, using T as scratch.
#define HSUM4(A, B, C, D, XA, T) \
	VHADDPS B, A, A; \
	VHADDPS D, C, C; \
	VHADDPS C, A, A; \
	VEXTRACTF128 $1, A, T; \
	VADDPS T, XA, XA

// func dotAVX2(a, b *float32, n int) float32
// Σ a[i]·b[i] for i < n, n a multiple of 8.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

dot32:
	CMPQ CX, $32
	JL   dot8
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  dot32

dot8:
	CMPQ CX, $8
	JL   dotdone
	VMOVUPS (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  dot8

dotdone:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// The matrix-vector kernels compute four row dot products at once, sharing
// the loads of x: rows at w, w+stride, w+2·stride, w+3·stride (stride in
// bytes; 0 computes one row four times, for the row tail). The results go
// to y[0..3]. Every row gets exactly the same sequence of operations, so a
// row's result does not depend on its position in the group.

#define ZERO8 \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7

#define MVFINISH8 \
	VADDPS Y1, Y0, Y0; \
	VADDPS Y3, Y2, Y2; \
	VADDPS Y5, Y4, Y4; \
	VADDPS Y7, Y6, Y6; \
	HSUM4(Y0, Y2, Y4, Y6, X0, X1); \
	VMOVUPS X0, (DX); \
	VZEROUPPER

// func mvF32x4(w *float32, stride int, x *float32, n int, y *[4]float32)
// n is a multiple of 8.
TEXT ·mvF32x4(SB), NOSPLIT, $0-40
	MVSETUP
	ZERO8

f32l16:
	CMPQ CX, $16
	JL   f32l8
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS 32(SI), Y9, Y1
	VFMADD231PS (R9), Y8, Y2
	VFMADD231PS 32(R9), Y9, Y3
	VFMADD231PS (R10), Y8, Y4
	VFMADD231PS 32(R10), Y9, Y5
	VFMADD231PS (R11), Y8, Y6
	VFMADD231PS 32(R11), Y9, Y7
	PREFETCHT0 (SI)(BX*4)
	PREFETCHT0 (R9)(BX*4)
	PREFETCHT0 (R10)(BX*4)
	PREFETCHT0 (R11)(BX*4)
	ADDQ $64, SI
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  f32l16

f32l8:
	CMPQ CX, $8
	JL   f32done
	VMOVUPS (DI), Y8
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS (R9), Y8, Y2
	VFMADD231PS (R10), Y8, Y4
	VFMADD231PS (R11), Y8, Y6

f32done:
	MVFINISH8
	RET

// func mvF16x4(w *uint16, stride int, x *float32, n int, y *[4]float32)
// n is a multiple of 8.
TEXT ·mvF16x4(SB), NOSPLIT, $0-40
	MVSETUP
	ZERO8

f16l16:
	CMPQ CX, $16
	JL   f16l8
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	VCVTPH2PS (SI), Y10
	VCVTPH2PS 16(SI), Y11
	VCVTPH2PS (R9), Y12
	VCVTPH2PS 16(R9), Y13
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y11, Y1
	VFMADD231PS Y8, Y12, Y2
	VFMADD231PS Y9, Y13, Y3
	VCVTPH2PS (R10), Y10
	VCVTPH2PS 16(R10), Y11
	VCVTPH2PS (R11), Y12
	VCVTPH2PS 16(R11), Y13
	VFMADD231PS Y8, Y10, Y4
	VFMADD231PS Y9, Y11, Y5
	VFMADD231PS Y8, Y12, Y6
	VFMADD231PS Y9, Y13, Y7
	PREFETCHT0 (SI)(BX*4)
	PREFETCHT0 (R9)(BX*4)
	PREFETCHT0 (R10)(BX*4)
	PREFETCHT0 (R11)(BX*4)
	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  f16l16

f16l8:
	CMPQ CX, $8
	JL   f16done
	VMOVUPS (DI), Y8
	VCVTPH2PS (SI), Y10
	VCVTPH2PS (R9), Y11
	VCVTPH2PS (R10), Y12
	VCVTPH2PS (R11), Y13
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y8, Y12, Y4
	VFMADD231PS Y8, Y13, Y6

f16done:
	MVFINISH8
	RET

// func mvBF16x4(w *uint16, stride int, x *float32, n int, y *[4]float32)
// n is a multiple of 8.
TEXT ·mvBF16x4(SB), NOSPLIT, $0-40
	MVSETUP
	ZERO8

bf16l16:
	CMPQ CX, $16
	JL   bf16l8
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	VPMOVZXWD (SI), Y10
	VPMOVZXWD 16(SI), Y11
	VPMOVZXWD (R9), Y12
	VPMOVZXWD 16(R9), Y13
	VPSLLD $16, Y10, Y10
	VPSLLD $16, Y11, Y11
	VPSLLD $16, Y12, Y12
	VPSLLD $16, Y13, Y13
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y11, Y1
	VFMADD231PS Y8, Y12, Y2
	VFMADD231PS Y9, Y13, Y3
	VPMOVZXWD (R10), Y10
	VPMOVZXWD 16(R10), Y11
	VPMOVZXWD (R11), Y12
	VPMOVZXWD 16(R11), Y13
	VPSLLD $16, Y10, Y10
	VPSLLD $16, Y11, Y11
	VPSLLD $16, Y12, Y12
	VPSLLD $16, Y13, Y13
	VFMADD231PS Y8, Y10, Y4
	VFMADD231PS Y9, Y11, Y5
	VFMADD231PS Y8, Y12, Y6
	VFMADD231PS Y9, Y13, Y7
	PREFETCHT0 (SI)(BX*4)
	PREFETCHT0 (R9)(BX*4)
	PREFETCHT0 (R10)(BX*4)
	PREFETCHT0 (R11)(BX*4)
	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  bf16l16

bf16l8:
	CMPQ CX, $8
	JL   bf16done
	VMOVUPS (DI), Y8
	VPMOVZXWD (SI), Y10
	VPMOVZXWD (R9), Y11
	VPMOVZXWD (R10), Y12
	VPMOVZXWD (R11), Y13
	VPSLLD $16, Y10, Y10
	VPSLLD $16, Y11, Y11
	VPSLLD $16, Y12, Y12
	VPSLLD $16, Y13, Y13
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y8, Y12, Y4
	VFMADD231PS Y8, Y13, Y6

bf16done:
	MVFINISH8
	RET

// Quantized rows, x in float32: each block is widened to four vectors of
// eight int32, converted, and multiplied by x in registers (Y12..Y15 hold
// the block's 32 x values); the block sum t is then scaled:
// acc += d·t (+ m·Σx for the types with an offset). Y0..Y3 are the four
// accumulators, Y4..Y9 scratch, Y10 a constant, Y11 the block's shared
// correction vector.

#define QLOADX \
	VMOVUPS (DI), Y12; \
	VMOVUPS 32(DI), Y13; \
	VMOVUPS 64(DI), Y14; \
	VMOVUPS 96(DI), Y15

// XSUM sets Y11 to the lane sums of the block's x (Y12+Y13+Y14+Y15).
#define XSUM \
	VADDPS Y13, Y12, Y11; \
	VADDPS Y15, Y14, Y8; \
	VADDPS Y8, Y11, Y11

#define QFINISH \
	HSUM4(Y0, Y1, Y2, Y3, X0, X4); \
	VMOVUPS X0, (DX); \
	VZEROUPPER

#define QADVANCE(BYTES) \
	PREFETCHT0 (SI)(BX*4); \
	PREFETCHT0 (R9)(BX*4); \
	PREFETCHT0 (R10)(BX*4); \
	PREFETCHT0 (R11)(BX*4); \
	ADDQ $BYTES, SI; \
	ADDQ $BYTES, R9; \
	ADDQ $BYTES, R10; \
	ADDQ $BYTES, R11; \
	ADDQ $128, DI

// SCALE(OFF, ACC): ACC += half(OFF(R))·Y4.
#define SCALE(R, OFF, ACC) \
	VPBROADCASTW OFF(R), X8; \
	VCVTPH2PS X8, Y8; \
	VFMADD231PS Y8, Y4, ACC

// Q8_0: half d; int8 q[32].
#define Q80ROW(R, ACC) \
	VPMOVSXBD 2(R), Y4; \
	VPMOVSXBD 10(R), Y5; \
	VPMOVSXBD 18(R), Y6; \
	VPMOVSXBD 26(R), Y7; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VCVTDQ2PS Y6, Y6; \
	VCVTDQ2PS Y7, Y7; \
	VMULPS Y12, Y4, Y4; \
	VFMADD231PS Y13, Y5, Y4; \
	VFMADD231PS Y14, Y6, Y4; \
	VFMADD231PS Y15, Y7, Y4; \
	SCALE(R, 0, ACC)

// func mvQ8_0x4(w *byte, stride int, x *float32, n int, y *[4]float32)
// n is the number of blocks.
TEXT ·mvQ8_0x4(SB), NOSPLIT, $0-40
	MVSETUP
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ CX, CX
	JE    q80done

q80loop:
	QLOADX
	Q80ROW(SI, Y0)
	Q80ROW(R9, Y1)
	Q80ROW(R10, Y2)
	Q80ROW(R11, Y3)
	QADVANCE(34)
	DECQ CX
	JNE  q80loop

q80done:
	QFINISH
	RET

// NIBBLES(R, OFF): Y4..Y7 = the 32 four-bit values at OFF(R) as int32 in
// element order (low nibbles of bytes 0..15, then the high nibbles).
#define NIBBLES(R, OFF) \
	VPMOVZXBD OFF(R), Y4; \
	VPMOVZXBD OFF+8(R), Y5; \
	VPSRLD $4, Y4, Y6; \
	VPSRLD $4, Y5, Y7; \
	VPAND Y10, Y4, Y4; \
	VPAND Y10, Y5, Y5

#define CVT4 \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VCVTDQ2PS Y6, Y6; \
	VCVTDQ2PS Y7, Y7

// DOTX: Y4 = Y4·x0 + Y5·x1 + Y6·x2 + Y7·x3, starting from SEED (a register
// holding the block correction) or from zero (DOTX0).
#define DOTXSEED(SEED) \
	VFMADD213PS SEED, Y12, Y4; \
	VFMADD231PS Y13, Y5, Y4; \
	VFMADD231PS Y14, Y6, Y4; \
	VFMADD231PS Y15, Y7, Y4

#define DOTX0 \
	VMULPS Y12, Y4, Y4; \
	VFMADD231PS Y13, Y5, Y4; \
	VFMADD231PS Y14, Y6, Y4; \
	VFMADD231PS Y15, Y7, Y4

// LOADCONST(V, Y) broadcasts the 32-bit immediate V into Y.
#define LOADCONST(V, Y, X) \
	MOVL $V, AX; \
	VMOVD AX, X; \
	VPBROADCASTD X, Y

// Q4_0: half d; u8 qs[16]; value = nibble − 8. The −8 is folded into the
// shared correction Y11 = −8·Σx, which seeds each row's block sum.
#define Q40ROW(R, ACC) \
	NIBBLES(R, 2); \
	CVT4; \
	DOTXSEED(Y11); \
	SCALE(R, 0, ACC)

// func mvQ4_0x4(w *byte, stride int, x *float32, n int, y *[4]float32)
TEXT ·mvQ4_0x4(SB), NOSPLIT, $0-40
	MVSETUP
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LOADCONST(0x0f, Y10, X10)
	LOADCONST(0xc1000000, Y9, X9) // −8.0
	TESTQ CX, CX
	JE    q40done

q40loop:
	QLOADX
	XSUM
	VMULPS Y9, Y11, Y11
	Q40ROW(SI, Y0)
	Q40ROW(R9, Y1)
	Q40ROW(R10, Y2)
	Q40ROW(R11, Y3)
	QADVANCE(18)
	DECQ CX
	JNE  q40loop

q40done:
	QFINISH
	RET

// Q4_1: half d; half m; u8 qs[16]; value = nibble·d + m, so the row's block
// sum is d·Σq·x + m·Σx with Y11 = Σx.
#define Q41ROW(R, ACC) \
	NIBBLES(R, 4); \
	CVT4; \
	DOTX0; \
	SCALE(R, 0, ACC); \
	VPBROADCASTW 2(R), X8; \
	VCVTPH2PS X8, Y8; \
	VFMADD231PS Y8, Y11, ACC

// func mvQ4_1x4(w *byte, stride int, x *float32, n int, y *[4]float32)
TEXT ·mvQ4_1x4(SB), NOSPLIT, $0-40
	MVSETUP
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LOADCONST(0x0f, Y10, X10)
	TESTQ CX, CX
	JE    q41done

q41loop:
	QLOADX
	XSUM
	Q41ROW(SI, Y0)
	Q41ROW(R9, Y1)
	Q41ROW(R10, Y2)
	Q41ROW(R11, Y3)
	QADVANCE(20)
	DECQ CX
	JNE  q41loop

q41done:
	QFINISH
	RET

// HIGHBITS(R, OFF) ORs the fifth bits into Y4..Y7 (before conversion): the
// 32-bit qh at OFF(R) holds bit 4 of element j in bit j. Each of its bytes
// indexes the table at R13 (256 entries of eight int32, entry v lane l =
// ((v>>l)&1)<<4).
#define HIGHBITS(R, OFF) \
	MOVL OFF(R), AX; \
	MOVL AX, R12; \
	SHLL $5, R12; \
	ANDL $0x1fe0, R12; \
	VPOR (R13)(R12*1), Y4, Y4; \
	MOVL AX, R12; \
	SHRL $3, R12; \
	ANDL $0x1fe0, R12; \
	VPOR (R13)(R12*1), Y5, Y5; \
	MOVL AX, R12; \
	SHRL $11, R12; \
	ANDL $0x1fe0, R12; \
	VPOR (R13)(R12*1), Y6, Y6; \
	SHRL $19, AX; \
	ANDL $0x1fe0, AX; \
	VPOR (R13)(AX*1), Y7, Y7

// Q5_0: half d; u32 qh; u8 qs[16]; value = (nibble | bit<<4) − 16; the −16
// is folded into Y11 = −16·Σx.
#define Q50ROW(R, ACC) \
	NIBBLES(R, 6); \
	HIGHBITS(R, 2); \
	CVT4; \
	DOTXSEED(Y11); \
	SCALE(R, 0, ACC)

// func mvQ5_0x4(w *byte, stride int, x *float32, n int, y *[4]float32, lut *[256][8]uint32)
TEXT ·mvQ5_0x4(SB), NOSPLIT, $0-48
	MVSETUP
	MOVQ lut+40(FP), R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LOADCONST(0x0f, Y10, X10)
	LOADCONST(0xc1800000, Y9, X9) // −16.0
	TESTQ CX, CX
	JE    q50done

q50loop:
	QLOADX
	XSUM
	VMULPS Y9, Y11, Y11
	Q50ROW(SI, Y0)
	Q50ROW(R9, Y1)
	Q50ROW(R10, Y2)
	Q50ROW(R11, Y3)
	QADVANCE(22)
	DECQ CX
	JNE  q50loop

q50done:
	QFINISH
	RET

// Q5_1: half d; half m; u32 qh; u8 qs[16]; value = (nibble | bit<<4)·d + m.
#define Q51ROW(R, ACC) \
	NIBBLES(R, 8); \
	HIGHBITS(R, 4); \
	CVT4; \
	DOTX0; \
	SCALE(R, 0, ACC); \
	VPBROADCASTW 2(R), X8; \
	VCVTPH2PS X8, Y8; \
	VFMADD231PS Y8, Y11, ACC

// func mvQ5_1x4(w *byte, stride int, x *float32, n int, y *[4]float32, lut *[256][8]uint32)
TEXT ·mvQ5_1x4(SB), NOSPLIT, $0-48
	MVSETUP
	MOVQ lut+40(FP), R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LOADCONST(0x0f, Y10, X10)
	TESTQ CX, CX
	JE    q51done

q51loop:
	QLOADX
	XSUM
	Q51ROW(SI, Y0)
	Q51ROW(R9, Y1)
	Q51ROW(R10, Y2)
	Q51ROW(R11, Y3)
	QADVANCE(24)
	DECQ CX
	JNE  q51loop

q51done:
	QFINISH
	RET
