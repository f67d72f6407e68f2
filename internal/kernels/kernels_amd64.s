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

// The float matrix-vector kernels (mvF32x4, mvF16x4, mvBF16x4) run many
// groups of four rows per call, so that Go pays one call per run of groups
// instead of one per group (a group of four 2048-column F16 rows takes
// about 0.2 µs; the call and the row bookkeeping around it took a tenth of
// that). Group g reads rows
// w + g·step + i·stride and stores row i's result at y + g·ystep +
// i·ystride (all in bytes), i < 4. R13 holds the group's first row, DX its
// y, R8 the groups left, AX ystride.

// MVGROUP loads the group arguments.
#define MVGROUP \
	MOVQ w+0(FP), R13; \
	MOVQ y+32(FP), DX; \
	MOVQ groups+48(FP), R8; \
	MOVQ ystride+64(FP), AX

// MVGSETUP starts a group: MVSETUP's registers from R13.
#define MVGSETUP \
	MOVQ R13, SI; \
	MOVQ stride+8(FP), BX; \
	MOVQ x+16(FP), DI; \
	MOVQ n+24(FP), CX; \
	LEAQ (SI)(BX*1), R9; \
	LEAQ (R9)(BX*1), R10; \
	LEAQ (R10)(BX*1), R11; \
	MOVQ pf+40(FP), R12; \
	ZERO8

// STORE4(Y, S) stores X0's four floats at Y, Y+S, Y+2S, Y+3S (R10 free).
#define STORE4(Y, S) \
	VMOVSS X0, (Y); \
	VEXTRACTPS $1, X0, (Y)(S*1); \
	VEXTRACTPS $2, X0, (Y)(S*2); \
	LEAQ (Y)(S*2), R10; \
	VEXTRACTPS $3, X0, (R10)(S*1)

// MVGNEXT stores the group's sums and steps to the next group.
#define MVGNEXT \
	VADDPS Y1, Y0, Y0; \
	VADDPS Y3, Y2, Y2; \
	VADDPS Y5, Y4, Y4; \
	VADDPS Y7, Y6, Y6; \
	HSUM4(Y0, Y2, Y4, Y6, X0, X1); \
	STORE4(DX, AX); \
	ADDQ step+56(FP), R13; \
	ADDQ ystep+72(FP), DX; \
	DECQ R8

// DECSETUP loads the tile decoders' arguments and constants; the flags
// are set for nb == 0.
#define DECSETUP \
	MOVQ src+0(FP), SI; \
	MOVQ nb+8(FP), CX; \
	MOVQ wt+16(FP), DI; \
	MOVQ dwc+24(FP), DX; \
	MOVL $0x0f0f0f0f, AX; \
	VMOVD AX, X15; \
	VPBROADCASTD X15, X15; \
	MOVL $0x10101010, AX; \
	VMOVD AX, X14; \
	VPBROADCASTD X14, Y14; \
	VMOVDQU q5shuf<>(SB), Y13; \
	VMOVDQU q5bits<>(SB), Y12; \
	TESTQ CX, CX

// WKV5SETUP loads the arguments of wkv5x32 and wkv5x8.
#define WKV5SETUP \
	MOVQ S+0(FP), SI; \
	MOVQ N+8(FP), CX; \
	MOVQ r+16(FP), R8; \
	MOVQ k+24(FP), R10; \
	MOVQ w+32(FP), R11; \
	MOVQ v+40(FP), R9; \
	MOVQ y+48(FP), DI; \
	MOVQ ruk+56(FP), AX; \
	MOVQ CX, DX; \
	SHLQ $2, DX; \
	VBROADCASTSS (AX), Y8

// HSUM4 reduces the four vectors A, B, C, D (clobbered) to the four floats
// [ΣA, ΣB, ΣC, ΣD] in the xmm half of A's register XA, using T as scratch.
#define HSUM4(A, B, C, D, XA, T) \
	VHADDPS B, A, A; \
	VHADDPS D, C, C; \
	VHADDPS C, A, A; \
	VEXTRACTF128 $1, A, T; \
	VADDPS T, XA, XA

// HSUM2(RET) stores the sum of Y0 and Y1's lanes at RET.
#define HSUM2(RET) \
	VADDPS       Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VMOVSS       X0, RET

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
	VADDPS Y3, Y2, Y1
	HSUM2(ret+24(FP))
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

// func mvF32x4(w *float32, stride int, x *float32, n int, y *float32, pf int, groups int, step int, ystride int, ystep int)
// n is a multiple of 8; groups ≥ 1.
TEXT ·mvF32x4(SB), NOSPLIT, $0-80
	MVGROUP

f32group:
	MVGSETUP

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
	PREFETCHT0 (SI)(R12*1)
	PREFETCHT0 (R9)(R12*1)
	PREFETCHT0 (R10)(R12*1)
	PREFETCHT0 (R11)(R12*1)
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
	MVGNEXT
	JNE f32group
	VZEROUPPER
	RET

// func mvF16x4(w *uint16, stride int, x *float32, n int, y *float32, pf int, groups int, step int, ystride int, ystep int)
// n is a multiple of 8; groups ≥ 1.
TEXT ·mvF16x4(SB), NOSPLIT, $0-80
	MVGROUP

f16group:
	MVGSETUP

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
	PREFETCHT0 (SI)(R12*1)
	PREFETCHT0 (R9)(R12*1)
	PREFETCHT0 (R10)(R12*1)
	PREFETCHT0 (R11)(R12*1)
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
	MVGNEXT
	JNE f16group
	VZEROUPPER
	RET

// func mvBF16x4(w *uint16, stride int, x *float32, n int, y *float32, pf int, groups int, step int, ystride int, ystep int)
// n is a multiple of 8; groups ≥ 1.
TEXT ·mvBF16x4(SB), NOSPLIT, $0-80
	MVGROUP

bf16group:
	MVGSETUP

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
	PREFETCHT0 (SI)(R12*1)
	PREFETCHT0 (R9)(R12*1)
	PREFETCHT0 (R10)(R12*1)
	PREFETCHT0 (R11)(R12*1)
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
	MVGNEXT
	JNE bf16group
	VZEROUPPER
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

// SCALE(R, OFF, ACC): ACC += half(OFF(R))·Y4. The half is widened by a
// lookup in the 65536-entry table at R8 (cheaper than VPBROADCASTW +
// VCVTPH2PS; the few entries real scales use stay in cache).
#define SCALE(R, OFF, ACC) \
	MOVWLZX OFF(R), AX; \
	VBROADCASTSS (R8)(AX*4), Y8; \
	VFMADD231PS Y8, Y4, ACC

// MTERM(R, OFF, ACC): ACC += half(OFF(R))·Y11 (the m·Σx term).
#define MTERM(R, OFF, ACC) \
	MOVWLZX OFF(R), AX; \
	VBROADCASTSS (R8)(AX*4), Y8; \
	VFMADD231PS Y8, Y11, ACC

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

// func mvQ8_0x4(w *byte, stride int, x *float32, n int, y *[4]float32, tbl *[65536]float32)
// n is the number of blocks.
TEXT ·mvQ8_0x4(SB), NOSPLIT, $0-48
	MVSETUP
	MOVQ tbl+40(FP), R8
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

// NIBBLES(R, OFF): the 16 bytes b at OFF(R) as int32: Y4 = b[0..7],
// Y5 = b[8..15], Y6, Y7 = their high nibbles. The low nibble is b − 16·hi,
// so Σ lo_j·x_j + hi_j·x_{j+16} = Σ b_j·x_j + hi_j·(x_{j+16} − 16·x_j):
// with XPRIME (Y14, Y15 = x' = x_{16..31} − 16·x_{0..15}) the low nibbles
// need no mask.
#define NIBBLES(R, OFF) \
	VPMOVZXBD OFF(R), Y4; \
	VPMOVZXBD OFF+8(R), Y5; \
	VPSRLD $4, Y4, Y6; \
	VPSRLD $4, Y5, Y7

// NIBBLESM(R, OFF): Y4..Y7 = the 32 nibbles at OFF(R) as int32 in element
// order (Y10 = 0x0f): for Q5, whose fifth bits keep the plain form.
#define NIBBLESM(R, OFF) \
	NIBBLES(R, OFF); \
	VPAND Y10, Y4, Y4; \
	VPAND Y10, Y5, Y5

// XPRIME replaces x_{16..31} (Y14, Y15) by x' (Y10 = −16).
#define XPRIME \
	VFMADD231PS Y10, Y12, Y14; \
	VFMADD231PS Y10, Y13, Y15

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

// func mvQ4_0x4(w *byte, stride int, x *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvQ4_0x4(SB), NOSPLIT, $0-48
	MVSETUP
	MOVQ tbl+40(FP), R8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LOADCONST(0xc1800000, Y10, X10) // −16.0
	LOADCONST(0xc1000000, Y9, X9) // −8.0
	TESTQ CX, CX
	JE    q40done

q40loop:
	QLOADX
	XSUM
	VMULPS Y9, Y11, Y11
	XPRIME
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
	MTERM(R, 2, ACC)

// func mvQ4_1x4(w *byte, stride int, x *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvQ4_1x4(SB), NOSPLIT, $0-48
	MVSETUP
	MOVQ tbl+40(FP), R8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	LOADCONST(0xc1800000, Y10, X10) // −16.0
	TESTQ CX, CX
	JE    q41done

q41loop:
	QLOADX
	XSUM
	XPRIME
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

// HIGHBITS(R, OFF) adds the fifth bits to Y4..Y7 (before conversion): the
// 32-bit qh at OFF(R) holds bit 4 of element j in bit j. Each of its bytes
// indexes the table at R13 (256 entries of eight int32, entry v lane l =
// ((v>>l)&1)<<4).
#define HIGHBITS(R, OFF) \
	MOVBLZX OFF(R), AX; \
	MOVBLZX OFF+1(R), R12; \
	SHLL $5, AX; \
	SHLL $5, R12; \
	VPADDD (R13)(AX*1), Y4, Y4; \
	VPADDD (R13)(R12*1), Y5, Y5; \
	MOVBLZX OFF+2(R), AX; \
	MOVBLZX OFF+3(R), R12; \
	SHLL $5, AX; \
	SHLL $5, R12; \
	VPADDD (R13)(AX*1), Y6, Y6; \
	VPADDD (R13)(R12*1), Y7, Y7

// Q5_0: half d; u32 qh; u8 qs[16]; value = (nibble | bit<<4) − 16; the −16
// is folded into Y11 = −16·Σx.
#define Q50ROW(R, ACC) \
	NIBBLESM(R, 6); \
	HIGHBITS(R, 2); \
	CVT4; \
	DOTXSEED(Y11); \
	SCALE(R, 0, ACC)

// func mvQ5_0x4(w *byte, stride int, x *float32, n int, y *[4]float32, lut *[256][8]uint32, tbl *[65536]float32)
TEXT ·mvQ5_0x4(SB), NOSPLIT, $0-56
	MVSETUP
	MOVQ tbl+48(FP), R8
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
	NIBBLESM(R, 8); \
	HIGHBITS(R, 4); \
	CVT4; \
	DOTX0; \
	SCALE(R, 0, ACC); \
	MTERM(R, 2, ACC)

// func mvQ5_1x4(w *byte, stride int, x *float32, n int, y *[4]float32, lut *[256][8]uint32, tbl *[65536]float32)
TEXT ·mvQ5_1x4(SB), NOSPLIT, $0-56
	MVSETUP
	MOVQ tbl+48(FP), R8
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

// func cvtF16(dst *float32, src *uint16, n int)
// Widens n halves (n a multiple of 8).
TEXT ·cvtF16(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

cvth16:
	CMPQ CX, $16
	JL   cvth8
	VCVTPH2PS (SI), Y0
	VCVTPH2PS 16(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  cvth16

cvth8:
	CMPQ CX, $8
	JL   cvthdone
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)

cvthdone:
	VZEROUPPER
	RET

// func cvtBF16(dst *float32, src *uint16, n int)
// Widens n bfloat16s (n a multiple of 8).
TEXT ·cvtBF16(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

cvtb16:
	CMPQ CX, $16
	JL   cvtb8
	VPMOVZXWD (SI), Y0
	VPMOVZXWD 16(SI), Y1
	VPSLLD $16, Y0, Y0
	VPSLLD $16, Y1, Y1
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  cvtb16

cvtb8:
	CMPQ CX, $8
	JL   cvtbdone
	VPMOVZXWD (SI), Y0
	VPSLLD $16, Y0, Y0
	VMOVDQU Y0, (DI)

cvtbdone:
	VZEROUPPER
	RET

// MM43STEP(OFF): the 4×3 FMA block on the 8 columns at OFF.
#define MM43STEP(OFF) \
	VMOVUPS OFF(SI), Y12; \
	VMOVUPS OFF(SI)(BX*1), Y13; \
	VMOVUPS OFF(SI)(BX*2), Y14; \
	VMOVUPS OFF(R11), Y15; \
	VFMADD231PS OFF(DI), Y12, Y0; \
	VFMADD231PS OFF(R8), Y12, Y1; \
	VFMADD231PS OFF(R9), Y12, Y2; \
	VFMADD231PS OFF(DI), Y13, Y3; \
	VFMADD231PS OFF(R8), Y13, Y4; \
	VFMADD231PS OFF(R9), Y13, Y5; \
	VFMADD231PS OFF(DI), Y14, Y6; \
	VFMADD231PS OFF(R8), Y14, Y7; \
	VFMADD231PS OFF(R9), Y14, Y8; \
	VFMADD231PS OFF(DI), Y15, Y9; \
	VFMADD231PS OFF(R8), Y15, Y10; \
	VFMADD231PS OFF(R9), Y15, Y11

// func mmF32x4x3(w *float32, wstride int, x0, x1, x2 *float32, n int, out *[12]float32)
// The 4×3 register block of the float matrix-matrix product: rows w +
// k·wstride (k < 4, stride in bytes) against the token rows x0, x1, x2,
// n columns (a positive multiple of 8). out[t·4+k] = row k · token t.
// Twelve accumulators, each the same FMA chain whatever the row or token.
TEXT ·mmF32x4x3(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ wstride+8(FP), BX
	MOVQ x0+16(FP), DI
	MOVQ x1+24(FP), R8
	MOVQ x2+32(FP), R9
	MOVQ n+40(FP), CX
	MOVQ out+48(FP), DX
	LEAQ (SI)(BX*2), R11
	ADDQ BX, R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

mm43loop:
	CMPQ CX, $16
	JL   mm43tail
	MM43STEP(0)
	MM43STEP(32)
	ADDQ $64, SI
	ADDQ $64, R11
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	SUBQ $16, CX
	JMP  mm43loop

mm43tail:
	TESTQ CX, CX
	JE    mm43done
	MM43STEP(0)

mm43done:
	HSUM4(Y0, Y3, Y6, Y9, X0, X12)
	VMOVUPS X0, (DX)
	HSUM4(Y1, Y4, Y7, Y10, X1, X12)
	VMOVUPS X1, 16(DX)
	HSUM4(Y2, Y5, Y8, Y11, X2, X12)
	VMOVUPS X2, 32(DX)
	VZEROUPPER
	RET

// Integer path of the quantized matrix-matrix product (see quant.go). One
// call handles a tile of four weight rows against one octet of tokens over
// nb blocks; every vector lane is one token, so each (row, token) result
// is the same scalar sequence of operations as in matMulQGeneric.
//
// a points to qmmArgs: 0 wt (decoded codes, [b][row][32] or, for Q8_0,
// [b][row][|w| 32, w 32]), 8 dwc ([b][row]{d, c} float32), 16 xq (the
// octet's activation records, 352 bytes per block), 24 nb, 32 out
// ([row][token] float32), 40 shift (3 for Q4_0, 4 for Q5_0, else 64: the
// Σq correction is sq<<shift), 48 hasM.
//
// Y0..Y3 accumulate the rows (float32 per token). Y15 holds int16 ones.

#define QMMSETUP \
	MOVQ 0(AX), SI; \
	MOVQ 8(AX), R8; \
	MOVQ 16(AX), DI; \
	MOVQ 24(AX), CX; \
	MOVQ 32(AX), DX; \
	MOVQ 40(AX), R9; \
	MOVQ 48(AX), R10; \
	VMOVQ R9, X14; \
	MOVL $0x00010001, R11; \
	VMOVD R11, X15; \
	VPBROADCASTD X15, Y15; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3

// QFIN(IS, ACC, OFF, T): IS (int32 block sums, less the correction in
// Y12) is converted and scaled by d·dx, then added to ACC.
#define QFIN(IS, ACC, OFF, T) \
	VPSUBD Y12, IS, IS; \
	VCVTDQ2PS IS, IS; \
	VBROADCASTSS OFF(R8), T; \
	VMULPS 256(DI), T, T; \
	VMULPS T, IS, IS; \
	VADDPS IS, ACC, ACC

// QMTERM adds c·sx to each row (Q4_1, Q5_1), after the block's products.
#define QMTERM \
	VMOVUPS 288(DI), Y12; \
	VBROADCASTSS 4(R8), Y13; \
	VMULPS Y12, Y13, Y13; \
	VADDPS Y13, Y0, Y0; \
	VBROADCASTSS 12(R8), Y13; \
	VMULPS Y12, Y13, Y13; \
	VADDPS Y13, Y1, Y1; \
	VBROADCASTSS 20(R8), Y13; \
	VMULPS Y12, Y13, Y13; \
	VADDPS Y13, Y2, Y2; \
	VBROADCASTSS 28(R8), Y13; \
	VMULPS Y12, Y13, Y13; \
	VADDPS Y13, Y3, Y3

#define QSTORE \
	VMOVUPS Y0, (DX); \
	VMOVUPS Y1, 32(DX); \
	VMOVUPS Y2, 64(DX); \
	VMOVUPS Y3, 96(DX); \
	VZEROUPPER

// Q4 codes (0..15): pair sums of VPMADDUBSW are at most 2·15·127, so all
// eight groups add up in int16 without overflow.
// Q4G0/Q4G(G): group G (elements 4G..4G+3) of the four rows.
#define Q4G0 \
	VMOVDQU (DI), Y8; \
	VPBROADCASTD (SI), Y9; \
	VPMADDUBSW Y8, Y9, Y4; \
	VPBROADCASTD 32(SI), Y10; \
	VPMADDUBSW Y8, Y10, Y5; \
	VPBROADCASTD 64(SI), Y11; \
	VPMADDUBSW Y8, Y11, Y6; \
	VPBROADCASTD 96(SI), Y13; \
	VPMADDUBSW Y8, Y13, Y7

#define Q4G(XO, WO, ACC0, ACC1, ACC2, ACC3) \
	VMOVDQU XO(DI), Y8; \
	VPBROADCASTD WO(SI), Y9; \
	VPMADDUBSW Y8, Y9, Y9; \
	VPADDW Y9, ACC0, ACC0; \
	VPBROADCASTD WO+32(SI), Y10; \
	VPMADDUBSW Y8, Y10, Y10; \
	VPADDW Y10, ACC1, ACC1; \
	VPBROADCASTD WO+64(SI), Y11; \
	VPMADDUBSW Y8, Y11, Y11; \
	VPADDW Y11, ACC2, ACC2; \
	VPBROADCASTD WO+96(SI), Y13; \
	VPMADDUBSW Y8, Y13, Y13; \
	VPADDW Y13, ACC3, ACC3

// QCORR loads the block's Σq<<shift into Y12.
#define QCORR \
	VMOVDQU 320(DI), Y12; \
	VPSLLD X14, Y12, Y12

// func mmQ4x8(a *qmmArgs)
TEXT ·mmQ4x8(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	QMMSETUP

mmq4loop:
	Q4G0
	Q4G(32, 4, Y4, Y5, Y6, Y7)
	Q4G(64, 8, Y4, Y5, Y6, Y7)
	Q4G(96, 12, Y4, Y5, Y6, Y7)
	Q4G(128, 16, Y4, Y5, Y6, Y7)
	Q4G(160, 20, Y4, Y5, Y6, Y7)
	Q4G(192, 24, Y4, Y5, Y6, Y7)
	Q4G(224, 28, Y4, Y5, Y6, Y7)
	VPMADDWD Y15, Y4, Y4
	VPMADDWD Y15, Y5, Y5
	VPMADDWD Y15, Y6, Y6
	VPMADDWD Y15, Y7, Y7
	QCORR
	QFIN(Y4, Y0, 0, Y8)
	QFIN(Y5, Y1, 8, Y9)
	QFIN(Y6, Y2, 16, Y10)
	QFIN(Y7, Y3, 24, Y11)
	TESTQ R10, R10
	JE    mmq4next
	QMTERM

mmq4next:
	ADDQ $128, SI
	ADDQ $32, R8
	ADDQ $352, DI
	DECQ CX
	JNE  mmq4loop
	QSTORE
	RET

// Q5 codes (0..31): four groups fit in int16 (4·2·31·127 < 32768), so the
// first and second halves of the block are widened separately.
#define Q5HALF(XO, WO, ACC0, ACC1, ACC2, ACC3) \
	VMOVDQU XO(DI), Y12; \
	VPBROADCASTD WO(SI), Y13; \
	VPMADDUBSW Y12, Y13, ACC0; \
	VPBROADCASTD WO+32(SI), Y13; \
	VPMADDUBSW Y12, Y13, ACC1; \
	VPBROADCASTD WO+64(SI), Y13; \
	VPMADDUBSW Y12, Y13, ACC2; \
	VPBROADCASTD WO+96(SI), Y13; \
	VPMADDUBSW Y12, Y13, ACC3; \
	Q5G(XO+32, WO+4, ACC0, ACC1, ACC2, ACC3); \
	Q5G(XO+64, WO+8, ACC0, ACC1, ACC2, ACC3); \
	Q5G(XO+96, WO+12, ACC0, ACC1, ACC2, ACC3); \
	VPMADDWD Y15, ACC0, ACC0; \
	VPMADDWD Y15, ACC1, ACC1; \
	VPMADDWD Y15, ACC2, ACC2; \
	VPMADDWD Y15, ACC3, ACC3

#define Q5G(XO, WO, ACC0, ACC1, ACC2, ACC3) \
	VMOVDQU XO(DI), Y12; \
	VPBROADCASTD WO(SI), Y13; \
	VPMADDUBSW Y12, Y13, Y13; \
	VPADDW Y13, ACC0, ACC0; \
	VPBROADCASTD WO+32(SI), Y13; \
	VPMADDUBSW Y12, Y13, Y13; \
	VPADDW Y13, ACC1, ACC1; \
	VPBROADCASTD WO+64(SI), Y13; \
	VPMADDUBSW Y12, Y13, Y13; \
	VPADDW Y13, ACC2, ACC2; \
	VPBROADCASTD WO+96(SI), Y13; \
	VPMADDUBSW Y12, Y13, Y13; \
	VPADDW Y13, ACC3, ACC3

// func mmQ5x8(a *qmmArgs)
TEXT ·mmQ5x8(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	QMMSETUP

mmq5loop:
	Q5HALF(0, 0, Y4, Y5, Y6, Y7)
	Q5HALF(128, 16, Y8, Y9, Y10, Y11)
	VPADDD Y8, Y4, Y4
	VPADDD Y9, Y5, Y5
	VPADDD Y10, Y6, Y6
	VPADDD Y11, Y7, Y7
	QCORR
	QFIN(Y4, Y0, 0, Y8)
	QFIN(Y5, Y1, 8, Y9)
	QFIN(Y6, Y2, 16, Y10)
	QFIN(Y7, Y3, 24, Y11)
	TESTQ R10, R10
	JE    mmq5next
	QMTERM

mmq5next:
	ADDQ $128, SI
	ADDQ $32, R8
	ADDQ $352, DI
	DECQ CX
	JNE  mmq5loop
	QSTORE
	RET

// Q8_0 codes are signed: VPMADDUBSW takes |w| (unsigned) against
// sign(x, w); each group's pair sums (at most 2·128·127) are widened to
// int32 at once.
#define Q8R(WO, ACC) \
	VPBROADCASTD WO(SI), Y9; \
	VPBROADCASTD WO+32(SI), Y10; \
	VPSIGNB Y10, Y8, Y11; \
	VPMADDUBSW Y11, Y9, Y9; \
	VPMADDWD Y15, Y9, Y9; \
	VPADDD Y9, ACC, ACC

#define Q8R0(WO, ACC) \
	VPBROADCASTD WO(SI), Y9; \
	VPBROADCASTD WO+32(SI), Y10; \
	VPSIGNB Y10, Y8, Y11; \
	VPMADDUBSW Y11, Y9, Y9; \
	VPMADDWD Y15, Y9, ACC

#define Q8G0 \
	VMOVDQU (DI), Y8; \
	Q8R0(0, Y4); \
	Q8R0(64, Y5); \
	Q8R0(128, Y6); \
	Q8R0(192, Y7)

#define Q8G(XO, WO) \
	VMOVDQU XO(DI), Y8; \
	Q8R(WO, Y4); \
	Q8R(WO+64, Y5); \
	Q8R(WO+128, Y6); \
	Q8R(WO+192, Y7)

// func mmQ8x8(a *qmmArgs)
TEXT ·mmQ8x8(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	QMMSETUP

mmq8loop:
	Q8G0
	Q8G(32, 4)
	Q8G(64, 8)
	Q8G(96, 12)
	Q8G(128, 16)
	Q8G(160, 20)
	Q8G(192, 24)
	Q8G(224, 28)
	VPXOR Y12, Y12, Y12
	QFIN(Y4, Y0, 0, Y8)
	QFIN(Y5, Y1, 8, Y9)
	QFIN(Y6, Y2, 16, Y10)
	QFIN(Y7, Y3, 24, Y11)
	ADDQ $256, SI
	ADDQ $32, R8
	ADDQ $352, DI
	DECQ CX
	JNE  mmq8loop
	QSTORE
	RET

// QAMAX loads a block of 32 floats at SI into Y0..Y3 and leaves the bit
// pattern of its amax in AX (X4). The bit patterns of |x| order as the
// values do (NaN above Inf above every finite value), so an integer max
// finds amax and non-finites.
#define QAMAX \
	VMOVUPS (SI), Y0; \
	VMOVUPS 32(SI), Y1; \
	VMOVUPS 64(SI), Y2; \
	VMOVUPS 96(SI), Y3; \
	VANDPS Y15, Y0, Y4; \
	VANDPS Y15, Y1, Y5; \
	VANDPS Y15, Y2, Y6; \
	VANDPS Y15, Y3, Y7; \
	VPMAXSD Y5, Y4, Y4; \
	VPMAXSD Y7, Y6, Y6; \
	VPMAXSD Y6, Y4, Y4; \
	VEXTRACTI128 $1, Y4, X5; \
	VPMAXSD X5, X4, X4; \
	VPSHUFD $0x4e, X4, X5; \
	VPMAXSD X5, X4, X4; \
	VPSHUFD $0xb1, X4, X5; \
	VPMAXSD X5, X4, X4; \
	VMOVD X4, AX

// QCODES quantizes Y0..Y3 with id = X10 (1/dx, or 0) into int32 codes in
// Y0..Y3 and Σq in X4 (Y12 = −127, Y13 = 127; clobbers Y5).
#define QCODES \
	VBROADCASTSS X10, Y10; \
	VMULPS Y10, Y0, Y0; \
	VMULPS Y10, Y1, Y1; \
	VMULPS Y10, Y2, Y2; \
	VMULPS Y10, Y3, Y3; \
	VROUNDPS $0, Y0, Y0; \
	VROUNDPS $0, Y1, Y1; \
	VROUNDPS $0, Y2, Y2; \
	VROUNDPS $0, Y3, Y3; \
	VMAXPS Y12, Y0, Y0; \
	VMAXPS Y12, Y1, Y1; \
	VMAXPS Y12, Y2, Y2; \
	VMAXPS Y12, Y3, Y3; \
	VMINPS Y13, Y0, Y0; \
	VMINPS Y13, Y1, Y1; \
	VMINPS Y13, Y2, Y2; \
	VMINPS Y13, Y3, Y3; \
	VCVTPS2DQ Y0, Y0; \
	VCVTPS2DQ Y1, Y1; \
	VCVTPS2DQ Y2, Y2; \
	VCVTPS2DQ Y3, Y3; \
	VPADDD Y1, Y0, Y4; \
	VPADDD Y3, Y2, Y5; \
	VPADDD Y5, Y4, Y4; \
	VEXTRACTI128 $1, Y4, X5; \
	VPADDD X5, X4, X4; \
	VPSHUFD $0x4e, X4, X5; \
	VPADDD X5, X4, X4; \
	VPSHUFD $0xb1, X4, X5; \
	VPADDD X5, X4, X4

// QPACK packs the codes of Y0..Y3 to bytes in Y0; the dwords hold the
// groups of four in the order [0 2 4 6 | 1 3 5 7].
#define QPACK \
	VPACKSSDW Y1, Y0, Y0; \
	VPACKSSDW Y3, Y2, Y2; \
	VPACKSSWB Y2, Y0, Y0

// func quantTok(x *float32, nb int, rec *byte)
// Quantizes one token's nb blocks of 32 floats into the lane of the
// activation records at rec (rec points at the token's lane: record b is at
// rec + 352·b). The twin of the inner loop of quantizeActsGo: dx = amax/127,
// q = roundeven(x·(1/dx)) clamped to ±127; a non-finite block gets q = 0
// and dx = sx = NaN.
TEXT ·quantTok(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ rec+16(FP), DI
	TESTQ CX, CX
	JE    qtdone
	LOADCONST(0x7fffffff, Y15, X15)
	LOADCONST(0x42fe0000, Y13, X13) // 127
	LOADCONST(0xc2fe0000, Y12, X12) // −127
	MOVL $0x3f800000, AX
	VMOVD AX, X11                   // 1

qtloop:
	QAMAX
	CMPL  AX, $0x7f7fffff
	JA    qtbad
	VDIVSS X13, X4, X9 // dx = amax/127
	VXORPS X10, X10, X10
	VUCOMISS X10, X9
	JE    qtzero
	VDIVSS X9, X11, X10 // id = 1/dx

qtzero:
	QCODES
	VMOVD X4, 320(DI)
	VCVTDQ2PS X4, X5
	VMULSS X5, X9, X5
	VMOVSS X9, 256(DI)
	VMOVSS X5, 288(DI)
	QPACK
	VEXTRACTI128 $1, Y0, X1
	VMOVD X0, (DI)
	VMOVD X1, 32(DI)
	VPEXTRD $1, X0, 64(DI)
	VPEXTRD $1, X1, 96(DI)
	VPEXTRD $2, X0, 128(DI)
	VPEXTRD $2, X1, 160(DI)
	VPEXTRD $3, X0, 192(DI)
	VPEXTRD $3, X1, 224(DI)

qtnext:
	ADDQ $128, SI
	ADDQ $352, DI
	DECQ CX
	JNE  qtloop

qtdone:
	VZEROUPPER
	RET

qtbad:
	MOVL $0, (DI)
	MOVL $0, 32(DI)
	MOVL $0, 64(DI)
	MOVL $0, 96(DI)
	MOVL $0, 128(DI)
	MOVL $0, 160(DI)
	MOVL $0, 192(DI)
	MOVL $0, 224(DI)
	MOVL $0x7fc00000, 256(DI)
	MOVL $0x7fc00000, 288(DI)
	MOVL $0, 320(DI)
	JMP  qtnext

DATA qvGroupOrder<>+0(SB)/8, $0x0000000400000000
DATA qvGroupOrder<>+8(SB)/8, $0x0000000500000001
DATA qvGroupOrder<>+16(SB)/8, $0x0000000600000002
DATA qvGroupOrder<>+24(SB)/8, $0x0000000700000003
GLOBL qvGroupOrder<>(SB), RODATA|NOPTR, $32

// func quantVecBlocks(x *float32, nb int, q *byte, ds *float32, sq *int32)
// quantTok for decode's qVec: block b's 32 codes in element order at
// q + 32·b, (dx, sx) at ds + 8·b, Σq at sq + 4·b. The twin of
// quantizeVecGo.
TEXT ·quantVecBlocks(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ nb+8(FP), CX
	MOVQ q+16(FP), DI
	MOVQ ds+24(FP), DX
	MOVQ sq+32(FP), R8
	TESTQ CX, CX
	JE    qvdone
	LOADCONST(0x7fffffff, Y15, X15)
	LOADCONST(0x42fe0000, Y13, X13) // 127
	LOADCONST(0xc2fe0000, Y12, X12) // −127
	VMOVDQU qvGroupOrder<>(SB), Y14
	MOVL $0x3f800000, AX
	VMOVD AX, X11                   // 1

qvloop:
	QAMAX
	CMPL  AX, $0x7f7fffff
	JA    qvbad
	VDIVSS X13, X4, X9 // dx = amax/127
	VXORPS X10, X10, X10
	VUCOMISS X10, X9
	JE    qvzero
	VDIVSS X9, X11, X10 // id = 1/dx

qvzero:
	QCODES
	VMOVD X4, (R8)
	VCVTDQ2PS X4, X5
	VMULSS X5, X9, X5
	VMOVSS X9, (DX)
	VMOVSS X5, 4(DX)
	QPACK
	VPERMD Y0, Y14, Y0
	VMOVDQU Y0, (DI)

qvnext:
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $8, DX
	ADDQ $4, R8
	DECQ CX
	JNE  qvloop

qvdone:
	VZEROUPPER
	RET

qvbad:
	VPXOR Y0, Y0, Y0
	VMOVDQU Y0, (DI)
	MOVL $0x7fc00000, (DX)
	MOVL $0x7fc00000, 4(DX)
	MOVL $0, (R8)
	JMP  qvnext

// Tile decoders: one row's nb blocks into slots of the integer kernels'
// tile (codes at wt + b·128, or b·256 for Q8_0; d and c at dwc + b·32).
// The twins of decodeQBlock.

DATA q5shuf<>+0(SB)/8, $0x0000000000000000
DATA q5shuf<>+8(SB)/8, $0x0101010101010101
DATA q5shuf<>+16(SB)/8, $0x0202020202020202
DATA q5shuf<>+24(SB)/8, $0x0303030303030303
GLOBL q5shuf<>(SB), RODATA|NOPTR, $32

DATA q5bits<>+0(SB)/8, $0x8040201008040201
DATA q5bits<>+8(SB)/8, $0x8040201008040201
DATA q5bits<>+16(SB)/8, $0x8040201008040201
DATA q5bits<>+24(SB)/8, $0x8040201008040201
GLOBL q5bits<>(SB), RODATA|NOPTR, $32

// HALF(OFF, DST): DST = half at OFF(SI) as float32 (clobbers AX, X2).
#define HALF(OFF, DST) \
	MOVWLZX OFF(SI), AX; \
	VMOVD AX, X2; \
	VCVTPH2PS X2, X2; \
	VMOVSS X2, DST

// NIB16(OFF): Y0 = the 32 nibble codes of the 16 bytes at OFF(SI).
#define NIB16(OFF) \
	VMOVDQU OFF(SI), X0; \
	VPSRLW $4, X0, X1; \
	VPAND X15, X0, X0; \
	VPAND X15, X1, X1; \
	VINSERTI128 $1, X1, Y0, Y0

// HI5(OFF): ORs bit j of the u32 at OFF(SI), as 0x10, into code j of Y0.
#define HI5(OFF) \
	VPBROADCASTD OFF(SI), Y1; \
	VPSHUFB Y13, Y1, Y1; \
	VPAND Y12, Y1, Y1; \
	VPCMPEQB Y12, Y1, Y1; \
	VPAND Y14, Y1, Y1; \
	VPOR Y1, Y0, Y0

// func decQ4_0(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decQ4_0(SB), NOSPLIT, $0-32
	DECSETUP
	JE decq40done

decq40:
	NIB16(2)
	VMOVDQU Y0, (DI)
	HALF(0, (DX))
	MOVL $0, 4(DX)
	ADDQ $18, SI
	ADDQ $128, DI
	ADDQ $32, DX
	DECQ CX
	JNE  decq40

decq40done:
	VZEROUPPER
	RET

// func decQ4_1(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decQ4_1(SB), NOSPLIT, $0-32
	DECSETUP
	JE decq41done

decq41:
	NIB16(4)
	VMOVDQU Y0, (DI)
	HALF(0, (DX))
	HALF(2, 4(DX))
	ADDQ $20, SI
	ADDQ $128, DI
	ADDQ $32, DX
	DECQ CX
	JNE  decq41

decq41done:
	VZEROUPPER
	RET

// func decQ5_0(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decQ5_0(SB), NOSPLIT, $0-32
	DECSETUP
	JE decq50done

decq50:
	NIB16(6)
	HI5(2)
	VMOVDQU Y0, (DI)
	HALF(0, (DX))
	MOVL $0, 4(DX)
	ADDQ $22, SI
	ADDQ $128, DI
	ADDQ $32, DX
	DECQ CX
	JNE  decq50

decq50done:
	VZEROUPPER
	RET

// func decQ5_1(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decQ5_1(SB), NOSPLIT, $0-32
	DECSETUP
	JE decq51done

decq51:
	NIB16(8)
	HI5(4)
	VMOVDQU Y0, (DI)
	HALF(0, (DX))
	HALF(2, 4(DX))
	ADDQ $24, SI
	ADDQ $128, DI
	ADDQ $32, DX
	DECQ CX
	JNE  decq51

decq51done:
	VZEROUPPER
	RET

// func decQ8_0(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decQ8_0(SB), NOSPLIT, $0-32
	DECSETUP
	JE decq80done

decq80:
	VMOVDQU 2(SI), Y0
	VPABSB Y0, Y1
	VMOVDQU Y1, (DI)
	VMOVDQU Y0, 32(DI)
	HALF(0, (DX))
	MOVL $0, 4(DX)
	ADDQ $34, SI
	ADDQ $256, DI
	ADDQ $32, DX
	DECQ CX
	JNE  decq80

decq80done:
	VZEROUPPER
	RET

// func wkv5x32(S *float32, N int, r, k, w, v, y, ruk *float32)
// func wkv5x8(S *float32, N int, r, k, w, v, y, ruk *float32)
// One head of the v5/v6 recurrence, for the 32 (or 8) value columns
// starting at S, v and y: y_j = ruk·v_j + Σ_i r_i·S_ij, then
// S_ij ← S_ij·w_i + k_i·v_j, where ruk = Σ_i r_i·u_i·k_i and S has rows of
// N floats.
#define WKV5COL(OFF, Y, V) \
	VMOVUPS OFF(SI), Y11; \
	VFMADD231PS Y11, Y8, Y; \
	VMULPS Y10, Y11, Y11; \
	VFMADD231PS V, Y9, Y11; \
	VMOVUPS Y11, OFF(SI)

TEXT ·wkv5x32(SB), NOSPLIT, $0-64
	WKV5SETUP
	VMOVUPS (R9), Y4
	VMOVUPS 32(R9), Y5
	VMOVUPS 64(R9), Y6
	VMOVUPS 96(R9), Y7
	VMULPS Y8, Y4, Y0
	VMULPS Y8, Y5, Y1
	VMULPS Y8, Y6, Y2
	VMULPS Y8, Y7, Y3

w5x32loop:
	VBROADCASTSS (R8), Y8
	VBROADCASTSS (R10), Y9
	VBROADCASTSS (R11), Y10
	WKV5COL(0, Y0, Y4)
	WKV5COL(32, Y1, Y5)
	WKV5COL(64, Y2, Y6)
	WKV5COL(96, Y3, Y7)
	ADDQ DX, SI
	ADDQ $4, R8
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ CX
	JNE  w5x32loop
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VZEROUPPER
	RET

TEXT ·wkv5x8(SB), NOSPLIT, $0-64
	WKV5SETUP
	VMOVUPS (R9), Y4
	VMULPS Y8, Y4, Y0

w5x8loop:
	VBROADCASTSS (R8), Y8
	VBROADCASTSS (R10), Y9
	VBROADCASTSS (R11), Y10
	WKV5COL(0, Y0, Y4)
	ADDQ DX, SI
	ADDQ $4, R8
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ CX
	JNE  w5x8loop
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET

// WKV7PF is how far ahead of the row it reads wkv7Head prefetches the
// state, in bytes (on into the next head's rows: a worker's heads are
// adjacent). In decode the state comes from memory, since the weights
// streamed since the last token have evicted it; the hardware prefetcher
// alone left the caller's share of a 1.5B layer at 13.2–14.6 µs, 4 KiB
// ahead takes 10.9–11.0 (8 KiB 10.8–11.2, 2 KiB 12.1–12.8). 1.5B decode
// alternated token by token: Q4_0 ×1.005 and ×1.007 (16 and 30 rounds),
// F16 ×1.004 (12).
#define WKV7PF 4096

// func wkv7Head(S *float32, N int, r, dec, k, kk, b, v, y *float32)
// One head of the v7 recurrence (S rows are values i, columns keys j; N a
// positive multiple of 8): sa = −Σ_j S_ij·kk_j; S_ij ← S_ij·dec_j + sa·b_j
// + v_i·k_j; y_i = Σ_j S_ij·r_j over the new row. Each row prefetches the
// row WKV7PF bytes ahead (four lines: N = 64 rows are 256 bytes; other
// sizes prefetch less or more than a row, which only changes timing).
TEXT ·wkv7Head(SB), NOSPLIT, $0-72
	MOVQ S+0(FP), SI
	MOVQ N+8(FP), CX
	MOVQ r+16(FP), R8
	MOVQ dec+24(FP), R9
	MOVQ k+32(FP), R10
	MOVQ kk+40(FP), R11
	MOVQ b+48(FP), R12
	MOVQ v+56(FP), R13
	MOVQ y+64(FP), DI
	MOVQ CX, BX
	MOVQ CX, DX
	SHLQ $2, DX
	LOADCONST(0x80000000, Y15, X15)

w7row:
	PREFETCHT0 WKV7PF(SI)
	PREFETCHT0 WKV7PF+64(SI)
	PREFETCHT0 WKV7PF+128(SI)
	PREFETCHT0 WKV7PF+192(SI)
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	XORQ AX, AX

w7p1:
	VMOVUPS (SI)(AX*1), Y2
	VFMADD231PS (R11)(AX*1), Y2, Y0
	ADDQ $32, AX
	CMPQ AX, DX
	JGE  w7p1done
	VMOVUPS (SI)(AX*1), Y2
	VFMADD231PS (R11)(AX*1), Y2, Y1
	ADDQ $32, AX
	CMPQ AX, DX
	JL   w7p1

w7p1done:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VXORPS X15, X0, X0
	VBROADCASTSS X0, Y3
	VBROADCASTSS (R13), Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	XORQ AX, AX

w7p2:
	VMOVUPS (SI)(AX*1), Y2
	VMULPS (R9)(AX*1), Y2, Y2
	VFMADD231PS (R12)(AX*1), Y3, Y2
	VFMADD231PS (R10)(AX*1), Y4, Y2
	VMOVUPS Y2, (SI)(AX*1)
	VFMADD231PS (R8)(AX*1), Y2, Y5
	ADDQ $32, AX
	CMPQ AX, DX
	JGE  w7p2done
	VMOVUPS (SI)(AX*1), Y2
	VMULPS (R9)(AX*1), Y2, Y2
	VFMADD231PS (R12)(AX*1), Y3, Y2
	VFMADD231PS (R10)(AX*1), Y4, Y2
	VMOVUPS Y2, (SI)(AX*1)
	VFMADD231PS (R8)(AX*1), Y2, Y6
	ADDQ $32, AX
	CMPQ AX, DX
	JL   w7p2

w7p2done:
	VADDPS Y6, Y5, Y5
	VEXTRACTF128 $1, Y5, X6
	VADDPS X6, X5, X5
	VHADDPS X5, X5, X5
	VHADDPS X5, X5, X5
	VMOVSS X5, (DI)
	ADDQ DX, SI
	ADDQ $4, R13
	ADDQ $4, DI
	DECQ BX
	JNE  w7row
	VZEROUPPER
	RET

// EXP8(X, T0..T3): X = e^X for eight floats (Cephes-style: 2^n·p(r) with
// n = roundeven(x·log2 e), r = x − n·ln 2 in two parts, p of degree 7; the
// power of two is applied in two halves so that results that overflow or
// underflow do so as IEEE arithmetic does). x is first clamped to
// [−104, 89] (NaN passes through). Y4..Y14 hold the constants (EXPCONST).
#define EXP8(X, T0, T1, T2) \
	VMINPS X, Y8, X; \
	VMAXPS X, Y9, X; \
	VMULPS Y10, X, T0; \
	VROUNDPS $0, T0, T0; \
	VFNMADD231PS Y11, T0, X; \
	VFNMADD231PS Y12, T0, X; \
	VCVTPS2DQ T0, T0; \
	VBROADCASTSS expP0<>(SB), T1; \
	VFMADD213PS Y4, X, T1; \
	VFMADD213PS Y5, X, T1; \
	VFMADD213PS Y6, X, T1; \
	VFMADD213PS Y7, X, T1; \
	VBROADCASTSS expP5<>(SB), T2; \
	VFMADD213PS T2, X, T1; \
	VMULPS X, X, T2; \
	VFMADD213PS X, T2, T1; \
	VADDPS Y13, T1, T1; \
	VPSRAD $1, T0, T2; \
	VPSUBD T2, T0, T0; \
	VPADDD Y14, T2, T2; \
	VPADDD Y14, T0, T0; \
	VPSLLD $23, T2, T2; \
	VPSLLD $23, T0, T0; \
	VMULPS T2, T1, T1; \
	VMULPS T0, T1, X

#define EXPCONST \
	VBROADCASTSS expP1<>(SB), Y4; \
	VBROADCASTSS expP2<>(SB), Y5; \
	VBROADCASTSS expP3<>(SB), Y6; \
	VBROADCASTSS expP4<>(SB), Y7; \
	VBROADCASTSS expHi<>(SB), Y8; \
	VBROADCASTSS expLo<>(SB), Y9; \
	VBROADCASTSS expLog2e<>(SB), Y10; \
	VBROADCASTSS expC1<>(SB), Y11; \
	VBROADCASTSS expC2<>(SB), Y12; \
	VBROADCASTSS expOne<>(SB), Y13; \
	MOVL $127, AX; \
	VMOVD AX, X14; \
	VPBROADCASTD X14, Y14

DATA expHi<>+0(SB)/4, $89.0
GLOBL expHi<>(SB), RODATA|NOPTR, $4
DATA expLo<>+0(SB)/4, $-104.0
GLOBL expLo<>(SB), RODATA|NOPTR, $4
DATA expLog2e<>+0(SB)/4, $1.44269504088896341
GLOBL expLog2e<>(SB), RODATA|NOPTR, $4
DATA expC1<>+0(SB)/4, $0.693359375
GLOBL expC1<>(SB), RODATA|NOPTR, $4
DATA expC2<>+0(SB)/4, $-2.12194440e-4
GLOBL expC2<>(SB), RODATA|NOPTR, $4
DATA expOne<>+0(SB)/4, $1.0
GLOBL expOne<>(SB), RODATA|NOPTR, $4
DATA expP0<>+0(SB)/4, $1.9875691500e-4
GLOBL expP0<>(SB), RODATA|NOPTR, $4
DATA expP1<>+0(SB)/4, $1.3981999507e-3
GLOBL expP1<>(SB), RODATA|NOPTR, $4
DATA expP2<>+0(SB)/4, $8.3334519073e-3
GLOBL expP2<>(SB), RODATA|NOPTR, $4
DATA expP3<>+0(SB)/4, $4.1665795894e-2
GLOBL expP3<>(SB), RODATA|NOPTR, $4
DATA expP4<>+0(SB)/4, $1.6666665459e-1
GLOBL expP4<>(SB), RODATA|NOPTR, $4
DATA expP5<>+0(SB)/4, $5.0000001201e-1
GLOBL expP5<>(SB), RODATA|NOPTR, $4

// func expAVX2(out, x *float32, n int)
// out[i] = e^x[i] for n (a multiple of 8) floats; out may be x.
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JE    expdone
	EXPCONST

exploop:
	VMOVUPS (SI), Y0
	EXP8(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNE  exploop

expdone:
	VZEROUPPER
	RET

// func sigmoidAVX2(out, x *float32, n int)
// out[i] = 1/(1+e^−x[i]) for n (a multiple of 8) floats; out may be x.
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	TESTQ CX, CX
	JE    sigdone
	EXPCONST
	LOADCONST(0x80000000, Y15, X15)

sigloop:
	VMOVUPS (SI), Y0
	VXORPS Y15, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3)
	VADDPS Y13, Y0, Y0
	VDIVPS Y0, Y13, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNE  sigloop

sigdone:
	VZEROUPPER
	RET

// func reluSqAVX2(x *float32, n int)
// x = max(x, 0)² in place, n a positive multiple of 8. VMAXPS returns its
// second source when either is NaN, so max(0, x) keeps a NaN x.
TEXT ·reluSqAVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Y15, Y15, Y15

rsqloop:
	VMOVUPS (SI), Y0
	VMAXPS Y0, Y15, Y0
	VMULPS Y0, Y0, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	SUBQ $8, CX
	JNE  rsqloop
	VZEROUPPER
	RET

// func fmaLoopY(n int)
// func fmaLoopZ(n int)
// Twelve independent FMA chains, enough to cover the latency on two FMA
// pipes: the FMA peak, for bench.
#define FMA12(R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, A, B) \
	VFMADD231PS A, B, R0; \
	VFMADD231PS A, B, R1; \
	VFMADD231PS A, B, R2; \
	VFMADD231PS A, B, R3; \
	VFMADD231PS A, B, R4; \
	VFMADD231PS A, B, R5; \
	VFMADD231PS A, B, R6; \
	VFMADD231PS A, B, R7; \
	VFMADD231PS A, B, R8; \
	VFMADD231PS A, B, R9; \
	VFMADD231PS A, B, R10; \
	VFMADD231PS A, B, R11

TEXT ·fmaLoopY(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JE    fmaydone

fmayloop:
	FMA12(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y14, Y15)
	DECQ CX
	JNE  fmayloop

fmaydone:
	VZEROUPPER
	RET

TEXT ·fmaLoopZ(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	TESTQ CX, CX
	JE    fmazdone

fmazloop:
	FMA12(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z14, Z15)
	DECQ CX
	JNE  fmazloop

fmazdone:
	VZEROUPPER
	RET

// VNNI integer MatMul (the avx512 set). The tile holds every type alike:
// per block and row a 64-byte slot with the 32 weights as signed bytes
// (code − 8 for Q4_0, code − 16 for Q5_0, the code for Q4_1 and Q5_1, w
// for Q8_0) and at byte 32 the int32 −128·Σw. The kernel makes the
// activations unsigned (q ^ 0x80 = q + 128) and multiplies them with the
// broadcast weights by VPDPBUSD, one instruction per row and group of
// four; starting each sum at −128·Σw leaves exactly Σq·w, the integer the
// avx2 kernels reach, and the float steps after it are theirs, so the two
// sets agree bit for bit.

// DECVTAIL stores the signed codes in Y0 and −128·Σw at wt, then advances
// wt by a block (Y11 holds 0x80 bytes, Y10 zero; clobbers AX, Y1, Y2).
#define DECVTAIL(SRCBYTES) \
	VMOVDQU Y0, (DI); \
	VPXOR Y11, Y0, Y1; \
	VPSADBW Y10, Y1, Y1; \
	VEXTRACTI128 $1, Y1, X2; \
	VPADDQ X2, X1, X1; \
	VPSHUFD $0x4e, X1, X2; \
	VPADDQ X2, X1, X1; \
	VMOVD X1, AX; \
	SHLL $7, AX; \
	NEGL AX; \
	ADDL $524288, AX; \
	MOVL AX, 32(DI); \
	ADDQ $SRCBYTES, SI; \
	ADDQ $256, DI; \
	ADDQ $32, DX; \
	DECQ CX

#define DECVSETUP \
	DECSETUP; \
	MOVL $0x80808080, AX; \
	VMOVD AX, X11; \
	VPBROADCASTD X11, Y11; \
	VPXOR Y10, Y10, Y10; \
	MOVL $0x08080808, AX; \
	VMOVD AX, X9; \
	VPBROADCASTD X9, Y9; \
	TESTQ CX, CX

// func decVQ4_0(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decVQ4_0(SB), NOSPLIT, $0-32
	DECVSETUP
	JE decv40done

decv40:
	NIB16(2)
	VPSUBB Y9, Y0, Y0
	HALF(0, (DX))
	MOVL $0, 4(DX)
	DECVTAIL(18)
	JNE decv40

decv40done:
	VZEROUPPER
	RET

// func decVQ4_1(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decVQ4_1(SB), NOSPLIT, $0-32
	DECVSETUP
	JE decv41done

decv41:
	NIB16(4)
	HALF(0, (DX))
	HALF(2, 4(DX))
	DECVTAIL(20)
	JNE decv41

decv41done:
	VZEROUPPER
	RET

// func decVQ5_0(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decVQ5_0(SB), NOSPLIT, $0-32
	DECVSETUP
	JE decv50done

decv50:
	NIB16(6)
	HI5(2)
	VPSUBB Y14, Y0, Y0
	HALF(0, (DX))
	MOVL $0, 4(DX)
	DECVTAIL(22)
	JNE decv50

decv50done:
	VZEROUPPER
	RET

// func decVQ5_1(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decVQ5_1(SB), NOSPLIT, $0-32
	DECVSETUP
	JE decv51done

decv51:
	NIB16(8)
	HI5(4)
	HALF(0, (DX))
	HALF(2, 4(DX))
	DECVTAIL(24)
	JNE decv51

decv51done:
	VZEROUPPER
	RET

// func decVQ8_0(src *byte, nb int, wt *byte, dwc *float32)
TEXT ·decVQ8_0(SB), NOSPLIT, $0-32
	DECVSETUP
	JE decv80done

decv80:
	VMOVDQU 2(SI), Y0
	HALF(0, (DX))
	MOVL $0, 4(DX)
	DECVTAIL(34)
	JNE decv80

decv80done:
	VZEROUPPER
	RET

// VG(XO, WO, A0, A1, A2, A3): one group of the block (activations at
// XO, weights at WO): the octet's activations
// made unsigned, times each row's four weights, into A0..A3.
#define VG(XO, WO, A0, A1, A2, A3) \
	VPXOR XO(DI), Y15, Y8; \
	VPDPBUSD.BCST WO(SI), Y8, A0; \
	VPDPBUSD.BCST WO+64(SI), Y8, A1; \
	VPDPBUSD.BCST WO+128(SI), Y8, A2; \
	VPDPBUSD.BCST WO+192(SI), Y8, A3

// VFIN(IS, T, ACC, OFF): QFIN's float steps on the int32 sums IS.
#define VFIN(IS, T, ACC, OFF) \
	VCVTDQ2PS IS, T; \
	VBROADCASTSS OFF(R8), Y12; \
	VMULPS 256(DI), Y12, Y12; \
	VMULPS Y12, T, T; \
	VADDPS T, ACC, ACC

// func mmQVx8(a *qmmArgs)
// Rows' even groups sum in Y16..Y19 (started at −128·Σw), odd groups in
// Y20..Y23, so that each VPDPBUSD chain is four long. (Four sets measured
// no faster: the kernel is bound by VPDPBUSD throughput, not latency.)
TEXT ·mmQVx8(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	QMMSETUP
	MOVL $0x80808080, R11
	VMOVD R11, X15
	VPBROADCASTD X15, Y15

mmqvloop:
	VPBROADCASTD 32(SI), Y16
	VPBROADCASTD 96(SI), Y17
	VPBROADCASTD 160(SI), Y18
	VPBROADCASTD 224(SI), Y19
	VPXORD Y20, Y20, Y20
	VPXORD Y21, Y21, Y21
	VPXORD Y22, Y22, Y22
	VPXORD Y23, Y23, Y23
	VG(0, 0, Y16, Y17, Y18, Y19)
	VG(32, 4, Y20, Y21, Y22, Y23)
	VG(64, 8, Y16, Y17, Y18, Y19)
	VG(96, 12, Y20, Y21, Y22, Y23)
	VG(128, 16, Y16, Y17, Y18, Y19)
	VG(160, 20, Y20, Y21, Y22, Y23)
	VG(192, 24, Y16, Y17, Y18, Y19)
	VG(224, 28, Y20, Y21, Y22, Y23)
	VPADDD Y20, Y16, Y16
	VPADDD Y21, Y17, Y17
	VPADDD Y22, Y18, Y18
	VPADDD Y23, Y19, Y19
	VFIN(Y16, Y4, Y0, 0)
	VFIN(Y17, Y5, Y1, 8)
	VFIN(Y18, Y6, Y2, 16)
	VFIN(Y19, Y7, Y3, 24)
	TESTQ R10, R10
	JE    mmqvnext
	QMTERM

mmqvnext:
	ADDQ $256, SI
	ADDQ $32, R8
	ADDQ $352, DI
	DECQ CX
	JNE  mmqvloop
	QSTORE
	RET

// func mmQVx16(a *qmmArgs)
// mmQVx8 on two token octets at once (xq and xq2, results in out and
// out2): each zmm lane is one of 16 tokens, so one VPDPBUSD does twice
// the work. Per lane the operations are mmQVx8's.
#define VG16(XO, WO, A0, A1, A2, A3) \
	VMOVDQU32 XO(DI), Y8; \
	VINSERTI64X4 $1, XO(R12), Z8, Z8; \
	VPXORD Z15, Z8, Z8; \
	VPDPBUSD.BCST WO(SI), Z8, A0; \
	VPDPBUSD.BCST WO+64(SI), Z8, A1; \
	VPDPBUSD.BCST WO+128(SI), Z8, A2; \
	VPDPBUSD.BCST WO+192(SI), Z8, A3

#define VFIN16(IS, T, ACC, OFF) \
	VCVTDQ2PS IS, T; \
	VBROADCASTSS OFF(R8), Z13; \
	VMULPS Z12, Z13, Z13; \
	VMULPS Z13, T, T; \
	VADDPS T, ACC, ACC

#define VMTERM16(OFF, ACC) \
	VBROADCASTSS OFF(R8), Z13; \
	VMULPS Z12, Z13, Z13; \
	VADDPS Z13, ACC, ACC

#define VSTORE16(Z, Y, OFF) \
	VMOVUPS Y, OFF(DX); \
	VEXTRACTF64X4 $1, Z, Y4; \
	VMOVUPS Y4, OFF(R13)

TEXT ·mmQVx16(SB), NOSPLIT, $0-8
	MOVQ a+0(FP), AX
	MOVQ 0(AX), SI
	MOVQ 8(AX), R8
	MOVQ 16(AX), DI
	MOVQ 24(AX), CX
	MOVQ 32(AX), DX
	MOVQ 48(AX), R10
	MOVQ 56(AX), R12
	MOVQ 64(AX), R13
	MOVL $0x80808080, R11
	VPBROADCASTD R11, Z15
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

mmqv16loop:
	VPBROADCASTD 32(SI), Z16
	VPBROADCASTD 96(SI), Z17
	VPBROADCASTD 160(SI), Z18
	VPBROADCASTD 224(SI), Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VG16(0, 0, Z16, Z17, Z18, Z19)
	VG16(32, 4, Z20, Z21, Z22, Z23)
	VG16(64, 8, Z16, Z17, Z18, Z19)
	VG16(96, 12, Z20, Z21, Z22, Z23)
	VG16(128, 16, Z16, Z17, Z18, Z19)
	VG16(160, 20, Z20, Z21, Z22, Z23)
	VG16(192, 24, Z16, Z17, Z18, Z19)
	VG16(224, 28, Z20, Z21, Z22, Z23)
	VPADDD Z20, Z16, Z16
	VPADDD Z21, Z17, Z17
	VPADDD Z22, Z18, Z18
	VPADDD Z23, Z19, Z19
	VMOVUPS 256(DI), Y12
	VINSERTF64X4 $1, 256(R12), Z12, Z12
	VFIN16(Z16, Z4, Z0, 0)
	VFIN16(Z17, Z5, Z1, 8)
	VFIN16(Z18, Z6, Z2, 16)
	VFIN16(Z19, Z7, Z3, 24)
	TESTQ R10, R10
	JE    mmqv16next
	VMOVUPS 288(DI), Y12
	VINSERTF64X4 $1, 288(R12), Z12, Z12
	VMTERM16(4, Z0)
	VMTERM16(12, Z1)
	VMTERM16(20, Z2)
	VMTERM16(28, Z3)

mmqv16next:
	ADDQ $256, SI
	ADDQ $32, R8
	ADDQ $352, DI
	ADDQ $352, R12
	DECQ CX
	JNE  mmqv16loop
	VSTORE16(Z0, Y0, 0)
	VSTORE16(Z1, Y1, 32)
	VSTORE16(Z2, Y2, 64)
	VSTORE16(Z3, Y3, 96)
	VZEROUPPER
	RET

// func lerpAVX2(out, a, b, mu *float32, n int)
// out = a + (b−a)·mu, n a positive multiple of 8; out may alias a or b.
TEXT ·lerpAVX2(SB), NOSPLIT, $0-40
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ mu+24(FP), R8
	MOVQ n+32(FP), CX

lerploop:
	VMOVUPS     (SI), Y0
	VMOVUPS     (DX), Y1
	VSUBPS      Y0, Y1, Y1
	VFMADD231PS (R8), Y1, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, R8
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNE         lerploop
	VZEROUPPER
	RET

// func sumAVX2(x *float32, n int) float32
// Σ x[i], n a positive multiple of 8 (two accumulators of eight lanes).
TEXT ·sumAVX2(SB), NOSPLIT, $0-20
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

suml16:
	CMPQ   CX, $16
	JL     suml8
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	ADDQ   $64, SI
	SUBQ   $16, CX
	JMP    suml16

suml8:
	CMPQ   CX, $8
	JL     sumdone
	VADDPS (SI), Y0, Y0

sumdone:
	HSUM2(ret+16(FP))
	VZEROUPPER
	RET

// func sqDevAVX2(x *float32, n int, mean float32) float32
// Σ (x[i]−mean)², n a positive multiple of 8.
TEXT ·sqDevAVX2(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS mean+16(FP), Y2
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1

sqdl16:
	CMPQ        CX, $16
	JL          sqdl8
	VMOVUPS     (SI), Y3
	VMOVUPS     32(SI), Y4
	VSUBPS      Y2, Y3, Y3
	VSUBPS      Y2, Y4, Y4
	VFMADD231PS Y3, Y3, Y0
	VFMADD231PS Y4, Y4, Y1
	ADDQ        $64, SI
	SUBQ        $16, CX
	JMP         sqdl16

sqdl8:
	CMPQ        CX, $8
	JL          sqddone
	VMOVUPS     (SI), Y3
	VSUBPS      Y2, Y3, Y3
	VFMADD231PS Y3, Y3, Y0

sqddone:
	HSUM2(ret+24(FP))
	VZEROUPPER
	RET

// func normAVX2(out, x, w, b *float32, n int, mean, inv float32)
// out = (x−mean)·inv·w + b, n a positive multiple of 8; out may alias x.
TEXT ·normAVX2(SB), NOSPLIT, $0-48
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         b+24(FP), R8
	MOVQ         n+32(FP), CX
	VBROADCASTSS mean+40(FP), Y2
	VBROADCASTSS inv+44(FP), Y3

normloop:
	VMOVUPS     (SI), Y0
	VSUBPS      Y2, Y0, Y0
	VMULPS      Y3, Y0, Y0
	VMOVUPS     (R8), Y1
	VFMADD231PS (DX), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, R8
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNE         normloop
	VZEROUPPER
	RET
