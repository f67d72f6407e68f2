//go:build amd64 && !purego

#include "textflag.h"

// Integer MatVec (decode) for the block-quantized types: four rows per
// pass share the loads of one block of quantized activations q (32 int8)
// and its scales. Per row and block the weight codes are widened to 32
// bytes in registers, VPMADDUBSW multiplies them (unsigned) with q (signed)
// into int16 pairs, VPMADDWD sums those into eight int32 lanes, and the
// lanes are converted and scaled by d·dx into the row's accumulator.
//
// Registers: SI, R9, R10, R11 the four rows; BX the row stride; DI q;
// DX the (dx, sx) pairs; CX blocks left; R8 the half table; Y0..Y3 row
// accumulators; X12..X15 the rows' m·sx sums (Q4_1, Q5_1); Y4 q; Y5 the
// offset correction; Y6 int16 ones; Y7 0x0f bytes; X10 dx; X11 sx.

// func mvqQ8_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)
// and the other mvq kernels share this frame.
#define MVQSETUP \
	MOVQ w+0(FP), SI; \
	MOVQ stride+8(FP), BX; \
	MOVQ q+16(FP), DI; \
	MOVQ ds+24(FP), DX; \
	MOVQ n+32(FP), CX; \
	MOVQ tbl+48(FP), R8; \
	MOVQ pf+56(FP), R12; \
	LEAQ (SI)(BX*1), R9; \
	LEAQ (R9)(BX*1), R10; \
	LEAQ (R10)(BX*1), R11; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS X12, X12, X12; \
	VXORPS X13, X13, X13; \
	VXORPS X14, X14, X14; \
	VXORPS X15, X15, X15; \
	MOVL $0x00010001, AX; \
	VMOVD AX, X6; \
	VPBROADCASTD X6, Y6; \
	MOVL $0x0f0f0f0f, AX; \
	VMOVD AX, X7; \
	VPBROADCASTD X7, Y7

// BLOCKQ loads the block's activations and scales.
#define BLOCKQ \
	VMOVDQU (DI), Y4; \
	VMOVSS (DX), X10

// NIBQ(R, OFF): Y8 = the 32 nibble codes of the 16 bytes at OFF(R), in
// element order (low nibbles then high nibbles).
#define NIBQ(R, OFF) \
	VBROADCASTI128 OFF(R), Y8; \
	VPSRLVQ qvNibShift<>(SB), Y8, Y8; \
	VPAND Y7, Y8, Y8

// HIQ(R, OFF): ORs bit j of the u32 at OFF(R), as 0x10, into code j of Y8.
#define HIQ(R, OFF) \
	VPBROADCASTD OFF(R), Y9; \
	VPSHUFB qvShuf<>(SB), Y9, Y9; \
	VPAND qvBits<>(SB), Y9, Y9; \
	VPCMPEQB qvBits<>(SB), Y9, Y9; \
	VPAND qvSixteen<>(SB), Y9, Y9; \
	VPOR Y9, Y8, Y8

// IDOT: Y8 = float32 of the eight int32 lane sums of codes(Y8)·q(Y4)
// minus the offset correction Y5 (zero where the type has none).
#define IDOT \
	VPMADDUBSW Y4, Y8, Y8; \
	VPSUBW Y5, Y8, Y8; \
	VPMADDWD Y6, Y8, Y8; \
	VCVTDQ2PS Y8, Y8

// IDOTNC is IDOT without an offset correction.
#define IDOTNC \
	VPMADDUBSW Y4, Y8, Y8; \
	VPMADDWD Y6, Y8, Y8; \
	VCVTDQ2PS Y8, Y8

// SCALEQ(R, OFF, ACC): ACC += Y8·(half(OFF(R))·dx).
#define SCALEQ(R, OFF, ACC) \
	MOVWLZX OFF(R), AX; \
	VMULSS (R8)(AX*4), X10, X9; \
	VBROADCASTSS X9, Y9; \
	VFMADD231PS Y9, Y8, ACC

// MTERMQ(R, OFF, MACC): MACC += half(OFF(R))·sx.
#define MTERMQ(R, OFF, MACC) \
	MOVWLZX OFF(R), AX; \
	VMOVSS (R8)(AX*4), X9; \
	VFMADD231SS X11, X9, MACC

#define ADVANCEQ(BYTES) \
	PREFETCHT0 (SI)(R12*1); \
	PREFETCHT0 (R9)(R12*1); \
	PREFETCHT0 (R10)(R12*1); \
	PREFETCHT0 (R11)(R12*1); \
	ADDQ $BYTES, SI; \
	ADDQ $BYTES, R9; \
	ADDQ $BYTES, R10; \
	ADDQ $BYTES, R11; \
	ADDQ $32, DI; \
	ADDQ $8, DX

// FINISHQ stores the four row sums, m terms added, at y.
#define FINISHQ \
	VHADDPS Y1, Y0, Y0; \
	VHADDPS Y3, Y2, Y2; \
	VHADDPS Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS X1, X0, X0; \
	VINSERTPS $0x10, X13, X12, X12; \
	VINSERTPS $0x20, X14, X12, X12; \
	VINSERTPS $0x30, X15, X12, X12; \
	VADDPS X12, X0, X0; \
	MOVQ y+40(FP), AX; \
	VMOVUPS X0, (AX); \
	VZEROUPPER

// Q8_0: half d; i8 qs[32]. Signed codes: |w| times q·sign(w).
#define Q80ROWQ(R, ACC) \
	VMOVDQU 2(R), Y8; \
	VPSIGNB Y8, Y4, Y9; \
	VPSIGNB Y8, Y8, Y8; \
	VPMADDUBSW Y9, Y8, Y8; \
	VPMADDWD Y6, Y8, Y8; \
	VCVTDQ2PS Y8, Y8; \
	SCALEQ(R, 0, ACC)

// func mvqQ8_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)
TEXT ·mvqQ8_0x4(SB), NOSPLIT, $0-64
	MVQSETUP
	TESTQ CX, CX
	JE    q80done

q80loop:
	BLOCKQ
	Q80ROWQ(SI, Y0)
	Q80ROWQ(R9, Y1)
	Q80ROWQ(R10, Y2)
	Q80ROWQ(R11, Y3)
	ADVANCEQ(34)
	DECQ CX
	JNE  q80loop

q80done:
	FINISHQ
	RET

// Q4_0: half d; u8 qs[16]; value = nibble − 8: Y5 = 8·(q pair sums).
#define Q40ROWQ(R, ACC) \
	NIBQ(R, 2); \
	IDOT; \
	SCALEQ(R, 0, ACC)

// func mvqQ4_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)
TEXT ·mvqQ4_0x4(SB), NOSPLIT, $0-64
	MVQSETUP
	MOVL $0x08080808, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	TESTQ CX, CX
	JE    q40done

q40loop:
	BLOCKQ
	VPMADDUBSW Y4, Y11, Y5
	Q40ROWQ(SI, Y0)
	Q40ROWQ(R9, Y1)
	Q40ROWQ(R10, Y2)
	Q40ROWQ(R11, Y3)
	ADVANCEQ(18)
	DECQ CX
	JNE  q40loop

q40done:
	FINISHQ
	RET

// Q4_1: half d; half m; u8 qs[16]; value = nibble·d + m.
#define Q41ROWQ(R, ACC, MACC) \
	NIBQ(R, 4); \
	IDOTNC; \
	SCALEQ(R, 0, ACC); \
	MTERMQ(R, 2, MACC)

// func mvqQ4_1x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)
TEXT ·mvqQ4_1x4(SB), NOSPLIT, $0-64
	MVQSETUP
	TESTQ CX, CX
	JE    q41done

q41loop:
	BLOCKQ
	VMOVSS 4(DX), X11
	Q41ROWQ(SI, Y0, X12)
	Q41ROWQ(R9, Y1, X13)
	Q41ROWQ(R10, Y2, X14)
	Q41ROWQ(R11, Y3, X15)
	ADVANCEQ(20)
	DECQ CX
	JNE  q41loop

q41done:
	FINISHQ
	RET

// Q5_0: half d; u32 qh; u8 qs[16]; value = (nibble | bit<<4) − 16.
#define Q50ROWQ(R, ACC) \
	NIBQ(R, 6); \
	HIQ(R, 2); \
	IDOT; \
	SCALEQ(R, 0, ACC)

// func mvqQ5_0x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)
TEXT ·mvqQ5_0x4(SB), NOSPLIT, $0-64
	MVQSETUP
	MOVL $0x10101010, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11
	TESTQ CX, CX
	JE    q50done

q50loop:
	BLOCKQ
	VPMADDUBSW Y4, Y11, Y5
	Q50ROWQ(SI, Y0)
	Q50ROWQ(R9, Y1)
	Q50ROWQ(R10, Y2)
	Q50ROWQ(R11, Y3)
	ADVANCEQ(22)
	DECQ CX
	JNE  q50loop

q50done:
	FINISHQ
	RET

// Q5_1: half d; half m; u32 qh; u8 qs[16]; value = (nibble | bit<<4)·d + m.
#define Q51ROWQ(R, ACC, MACC) \
	NIBQ(R, 8); \
	HIQ(R, 4); \
	IDOTNC; \
	SCALEQ(R, 0, ACC); \
	MTERMQ(R, 2, MACC)

// func mvqQ5_1x4(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32, pf int)
TEXT ·mvqQ5_1x4(SB), NOSPLIT, $0-64
	MVQSETUP
	TESTQ CX, CX
	JE    q51done

q51loop:
	BLOCKQ
	VMOVSS 4(DX), X11
	Q51ROWQ(SI, Y0, X12)
	Q51ROWQ(R9, Y1, X13)
	Q51ROWQ(R10, Y2, X14)
	Q51ROWQ(R11, Y3, X15)
	ADVANCEQ(24)
	DECQ CX
	JNE  q51loop

q51done:
	FINISHQ
	RET

DATA qvNibShift<>+0(SB)/8, $0
DATA qvNibShift<>+8(SB)/8, $0
DATA qvNibShift<>+16(SB)/8, $4
DATA qvNibShift<>+24(SB)/8, $4
GLOBL qvNibShift<>(SB), RODATA|NOPTR, $32

DATA qvShuf<>+0(SB)/8, $0x0000000000000000
DATA qvShuf<>+8(SB)/8, $0x0101010101010101
DATA qvShuf<>+16(SB)/8, $0x0202020202020202
DATA qvShuf<>+24(SB)/8, $0x0303030303030303
GLOBL qvShuf<>(SB), RODATA|NOPTR, $32

DATA qvBits<>+0(SB)/8, $0x8040201008040201
DATA qvBits<>+8(SB)/8, $0x8040201008040201
DATA qvBits<>+16(SB)/8, $0x8040201008040201
DATA qvBits<>+24(SB)/8, $0x8040201008040201
GLOBL qvBits<>(SB), RODATA|NOPTR, $32

DATA qvSixteen<>+0(SB)/8, $0x1010101010101010
DATA qvSixteen<>+8(SB)/8, $0x1010101010101010
DATA qvSixteen<>+16(SB)/8, $0x1010101010101010
DATA qvSixteen<>+24(SB)/8, $0x1010101010101010
GLOBL qvSixteen<>(SB), RODATA|NOPTR, $32
