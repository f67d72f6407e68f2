//go:build amd64 && !purego

#include "textflag.h"

// Integer MatVec (decode) with AVX-512 VNNI: the mvq*x4 kernels' frame and
// results in fewer instructions. Two rows' 32 codes each are widened to
// bytes in one Z register, and one VPDPBUSD (u8 codes · s8 q, groups of
// four summed into int32, no int16 saturation) replaces two rows'
// VPMADDUBSW + VPMADDWD. A type's offset (Q4_0 −8, Q5_0 −16, Q8_0 −128
// after the sign flip) starts the accumulators at −off·Σq, computed once
// per block for the four rows. Q5's fifth bits are a mask register: one
// masked byte add instead of a six-instruction expansion.
//
// Each row's int32 lanes are then summed to one exact int32 (|Σ| < 2^24,
// so its float32 is exact too) and the rows are scaled together:
// acc += float32(isum)·(d·dx) [+ m·sx], with d, m converted by VCVTPH2PS.
// That is the generic twin's arithmetic in its order, so these kernels give
// its results bit for bit. The sums and the scaling form a long dependency
// chain per block, so the main loop takes two blocks at a time through one
// shared reduction: half the chains, and the out-of-order window covers
// more of them (all types but Q8_0, which is bound by memory instead). The
// rows' half scales are gathered in integer registers, whose units are
// otherwise idle, rather than by vector inserts.
//
// Registers: SI row 0, BX the row stride, R9 3·stride (rows 1..3 are
// (SI)(BX*1), (SI)(BX*2), (SI)(R9*1)), R12 row 8 (prefetch); DI q; DX the
// (dx, sx) pairs; CX blocks; R13 block pairs left; AX, R8, R10, R11 half
// scales. For the first and second block of a pair: Z4, Z20 q in both
// halves; Z5, Z21 −off·Σq lanes; Z0, Z1 rows 0, 1's lanes; Z2, Z3 rows 2,
// 3's. Z6 0x0f bytes; Z7 the offset bytes; Z8, Z9, Z22, Z23 codes; Z12
// zero; Z13 0x10 bytes; Z16 the nibble shifts; Z17 the row-sum order; Y18,
// Y19 the dx, sx spreads; X14 the four row sums; X15 or Y15 the (dx, sx)
// pairs; K2 the upper half of a Z in dwords.

#define MVQSETUPV \
	MOVQ w+0(FP), SI; \
	MOVQ stride+8(FP), BX; \
	MOVQ q+16(FP), DI; \
	MOVQ ds+24(FP), DX; \
	MOVQ n+32(FP), CX; \
	LEAQ (BX)(BX*2), R9; \
	LEAQ (SI)(BX*8), R12; \
	MOVQ CX, R13; \
	SHRQ $1, R13; \
	VPXORD Z12, Z12, Z12; \
	VXORPS X14, X14, X14; \
	MOVL $0x0f0f0f0f, AX; \
	VPBROADCASTD AX, Z6; \
	VMOVDQU64 mvvNibShift<>(SB), Z16; \
	VMOVDQU64 mvvSumOrder<>(SB), Z17; \
	VMOVDQU32 mvvSpread<>+0(SB), Y18; \
	VMOVDQU32 mvvSpread<>+32(SB), Y19; \
	MOVL $0xff00, AX; \
	KMOVW AX, K2

// OFFSETV(B): Z7 = bytes B; the four-byte pattern B is the type's offset.
#define OFFSETV(B) \
	MOVL B, AX; \
	VPBROADCASTD AX, Z7

// CORRV(Q, CORR): CORR = −off·(sums of four q), off the bytes of Z7.
#define CORRV(Q, CORR) \
	VPXORD CORR, CORR, CORR; \
	VPDPBUSD Q, Z7, CORR; \
	VPSUBD CORR, Z12, CORR

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

// DOTV(Q, CORR, C, ACC): ACC = CORR + codes(C)·Q lanes; DOTNV(Q, C, ACC)
// without an offset.
#define DOTV(Q, CORR, C, ACC) \
	VMOVDQA64 CORR, ACC; \
	VPDPBUSD Q, C, ACC

#define DOTNV(Q, C, ACC) \
	VPXORD ACC, ACC, ACC; \
	VPDPBUSD Q, C, ACC

// HALF4(OFF, R, T): R = the halves at OFF of the four rows, row 0 in the
// low 16 bits.
#define HALF4(OFF, R, T) \
	MOVWQZX OFF(SI), R; \
	MOVWQZX OFF(SI)(BX*1), T; \
	SHLQ $16, T; \
	ORQ T, R; \
	MOVWQZX OFF(SI)(BX*2), T; \
	SHLQ $32, T; \
	ORQ T, R; \
	MOVWQZX OFF(SI)(R9*1), T; \
	SHLQ $48, T; \
	ORQ T, R

// HALVES(OFF, X): the low four floats of X = the halves at OFF of the four
// rows, exactly.
#define HALVES(OFF, X) \
	HALF4(OFF, AX, R10); \
	VMOVQ AX, X; \
	VCVTPH2PS X, X

// HALVES2(OFF, NEXT, X, Y): Y = the halves at OFF of the four rows, then
// those at NEXT (OFF plus a block).
#define HALVES2(OFF, NEXT, X, Y) \
	HALF4(OFF, AX, R10); \
	HALF4(NEXT, R8, R11); \
	VMOVQ AX, X; \
	VPINSRQ $1, R8, X, X; \
	VCVTPH2PS X, Y

// ONESUMV: one block, lanes in Z0 (rows 0, 1) and Z2 (rows 2, 3); X0 =
// float32 of the four row sums; X10 = d·dx.
#define ONESUMV \
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
	VBROADCASTSS (DX), X15; \
	VMULPS X15, X10, X10; \
	VMULPS X10, X0, X0

// TWOSUMV(NEXT): two blocks, the second's lanes in Z1, Z3, NEXT bytes on;
// Y0 = float32 of the row sums (first block, then second), scaled by d·dx.
#define TWOSUMV(NEXT) \
	VPUNPCKLDQ Z2, Z0, Z8; \
	VPUNPCKHDQ Z2, Z0, Z0; \
	VPADDD Z8, Z0, Z0; \
	VPUNPCKLDQ Z3, Z1, Z9; \
	VPUNPCKHDQ Z3, Z1, Z1; \
	VPADDD Z9, Z1, Z1; \
	VPUNPCKLQDQ Z1, Z0, Z8; \
	VPUNPCKHQDQ Z1, Z0, Z0; \
	VPADDD Z8, Z0, Z0; \
	VSHUFI64X2 $0xb1, Z0, Z0, Z8; \
	VPADDD Z8, Z0, Z0; \
	VPERMD Z0, Z17, Z0; \
	VCVTDQ2PS Y0, Y0; \
	HALVES2(0, NEXT, X10, Y10); \
	VMOVUPS (DX), X15; \
	VPERMPS Y15, Y18, Y11; \
	VMULPS Y11, Y10, Y10; \
	VMULPS Y10, Y0, Y0

// ADVANCEV(BYTES, QB, DB) prefetches the rows two passes ahead and steps
// BYTES of weights, QB of q, DB of (dx, sx).
#define ADVANCEV(BYTES, QB, DB) \
	PREFETCHT0 (R12); \
	PREFETCHT0 (R12)(BX*1); \
	PREFETCHT0 (R12)(BX*2); \
	PREFETCHT0 (R12)(R9*1); \
	ADDQ $BYTES, SI; \
	ADDQ $BYTES, R12; \
	ADDQ $QB, DI; \
	ADDQ $DB, DX

#define FINISHV \
	MOVQ y+40(FP), AX; \
	VMOVUPS X14, (AX); \
	VZEROUPPER; \
	RET

// ADDONE: X14 += X0. ADDTWO: X14 += the first half of Y0, then the second.
#define ADDONE \
	VADDPS X0, X14, X14

#define ADDTWO \
	VADDPS X0, X14, X14; \
	VEXTRACTF128 $1, Y0, X0; \
	VADDPS X0, X14, X14

// ADDONEM: X14 += X0, then m·sx (m the halves at 2). ADDTWOM likewise for
// two blocks, NEXT bytes apart.
#define ADDONEM \
	VADDPS X0, X14, X14; \
	HALVES(2, X11); \
	VBROADCASTSS 4(DX), X15; \
	VMULPS X15, X11, X11; \
	VADDPS X11, X14, X14

#define ADDTWOM(NEXT) \
	HALVES2(2, NEXT, X11, Y11); \
	VPERMPS Y15, Y19, Y15; \
	VMULPS Y15, Y11, Y11; \
	VADDPS X0, X14, X14; \
	VADDPS X11, X14, X14; \
	VEXTRACTF128 $1, Y0, X0; \
	VEXTRACTF128 $1, Y11, X11; \
	VADDPS X0, X14, X14; \
	VADDPS X11, X14, X14

// Q8_0: half d; i8 qs[32]. w XOR 0x80 = w+128 is unsigned; CORR takes the
// 128·Σq back off.
#define Q80ROWSV(A0, A1, Q, CORR, C, ACC) \
	VMOVDQU64 A0, Y8; \
	VINSERTI64X4 $1, A1, Z8, C; \
	VPXORD Z7, C, C; \
	DOTV(Q, CORR, C, ACC)

// func mvqQ8_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ8_0x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	OFFSETV($0x80808080)
	TESTQ CX, CX
	JE    q80done

	// One block per pass: Q8_0 is bound by memory, not by the row sums,
	// and pairs of blocks (68 bytes per row) stream measurably slower.
q80loop:
	VBROADCASTI64X4 (DI), Z4
	CORRV(Z4, Z5)
	Q80ROWSV(2(SI), 2(SI)(BX*1), Z4, Z5, Z8, Z0)
	Q80ROWSV(2(SI)(BX*2), 2(SI)(R9*1), Z4, Z5, Z9, Z2)
	ONESUMV
	ADDONE
	ADVANCEV(34, 32, 8)
	DECQ CX
	JNE  q80loop

q80done:
	FINISHV

// Q4_0: half d; u8 qs[16]; value = nibble − 8.
#define Q40ROWSV(A0, A1, Q, CORR, C, ACC) \
	NIBV(A0, A1, C); \
	DOTV(Q, CORR, C, ACC)

// func mvqQ4_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ4_0x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	OFFSETV($0x08080808)
	TESTQ R13, R13
	JE    q40one

q40loop:
	VBROADCASTI64X4 (DI), Z4
	VBROADCASTI64X4 32(DI), Z20
	CORRV(Z4, Z5)
	CORRV(Z20, Z21)
	Q40ROWSV(2(SI), 2(SI)(BX*1), Z4, Z5, Z8, Z0)
	Q40ROWSV(2(SI)(BX*2), 2(SI)(R9*1), Z4, Z5, Z9, Z2)
	Q40ROWSV(20(SI), 20(SI)(BX*1), Z20, Z21, Z22, Z1)
	Q40ROWSV(20(SI)(BX*2), 20(SI)(R9*1), Z20, Z21, Z23, Z3)
	TWOSUMV(18)
	ADDTWO
	ADVANCEV(36, 64, 16)
	DECQ R13
	JNE  q40loop

q40one:
	TESTQ $1, CX
	JE    q40done
	VBROADCASTI64X4 (DI), Z4
	CORRV(Z4, Z5)
	Q40ROWSV(2(SI), 2(SI)(BX*1), Z4, Z5, Z8, Z0)
	Q40ROWSV(2(SI)(BX*2), 2(SI)(R9*1), Z4, Z5, Z9, Z2)
	ONESUMV
	ADDONE

q40done:
	FINISHV

// Q4_1: half d; half m; u8 qs[16]; value = nibble·d + m.
#define Q41ROWSV(A0, A1, Q, C, ACC) \
	NIBV(A0, A1, C); \
	DOTNV(Q, C, ACC)

// func mvqQ4_1x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ4_1x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	TESTQ R13, R13
	JE    q41one

q41loop:
	VBROADCASTI64X4 (DI), Z4
	VBROADCASTI64X4 32(DI), Z20
	Q41ROWSV(4(SI), 4(SI)(BX*1), Z4, Z8, Z0)
	Q41ROWSV(4(SI)(BX*2), 4(SI)(R9*1), Z4, Z9, Z2)
	Q41ROWSV(24(SI), 24(SI)(BX*1), Z20, Z22, Z1)
	Q41ROWSV(24(SI)(BX*2), 24(SI)(R9*1), Z20, Z23, Z3)
	TWOSUMV(20)
	ADDTWOM(22)
	ADVANCEV(40, 64, 16)
	DECQ R13
	JNE  q41loop

q41one:
	TESTQ $1, CX
	JE    q41done
	VBROADCASTI64X4 (DI), Z4
	Q41ROWSV(4(SI), 4(SI)(BX*1), Z4, Z8, Z0)
	Q41ROWSV(4(SI)(BX*2), 4(SI)(R9*1), Z4, Z9, Z2)
	ONESUMV
	ADDONEM

q41done:
	FINISHV

// Q5_0: half d; u32 qh; u8 qs[16]; value = (nibble | bit<<4) − 16.
#define Q50ROWSV(S0, S1, H0, H1, Q, CORR, C, ACC) \
	NIBV(S0, S1, C); \
	HIV(H0, H1, C); \
	DOTV(Q, CORR, C, ACC)

// func mvqQ5_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ5_0x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	OFFSETV($0x10101010)
	VMOVDQA64 Z7, Z13
	TESTQ R13, R13
	JE    q50one

q50loop:
	VBROADCASTI64X4 (DI), Z4
	VBROADCASTI64X4 32(DI), Z20
	CORRV(Z4, Z5)
	CORRV(Z20, Z21)
	Q50ROWSV(6(SI), 6(SI)(BX*1), 2(SI), 2(SI)(BX*1), Z4, Z5, Z8, Z0)
	Q50ROWSV(6(SI)(BX*2), 6(SI)(R9*1), 2(SI)(BX*2), 2(SI)(R9*1), Z4, Z5, Z9, Z2)
	Q50ROWSV(28(SI), 28(SI)(BX*1), 24(SI), 24(SI)(BX*1), Z20, Z21, Z22, Z1)
	Q50ROWSV(28(SI)(BX*2), 28(SI)(R9*1), 24(SI)(BX*2), 24(SI)(R9*1), Z20, Z21, Z23, Z3)
	TWOSUMV(22)
	ADDTWO
	ADVANCEV(44, 64, 16)
	DECQ R13
	JNE  q50loop

q50one:
	TESTQ $1, CX
	JE    q50done
	VBROADCASTI64X4 (DI), Z4
	CORRV(Z4, Z5)
	Q50ROWSV(6(SI), 6(SI)(BX*1), 2(SI), 2(SI)(BX*1), Z4, Z5, Z8, Z0)
	Q50ROWSV(6(SI)(BX*2), 6(SI)(R9*1), 2(SI)(BX*2), 2(SI)(R9*1), Z4, Z5, Z9, Z2)
	ONESUMV
	ADDONE

q50done:
	FINISHV

// Q5_1: half d; half m; u32 qh; u8 qs[16]; value = (nibble | bit<<4)·d + m.
#define Q51ROWSV(S0, S1, H0, H1, Q, C, ACC) \
	NIBV(S0, S1, C); \
	HIV(H0, H1, C); \
	DOTNV(Q, C, ACC)

// func mvqQ5_1x4V(w *byte, stride int, q *byte, ds *float32, n int, y *[4]float32, tbl *[65536]float32)
TEXT ·mvqQ5_1x4V(SB), NOSPLIT, $0-56
	MVQSETUPV
	MOVL $0x10101010, AX
	VPBROADCASTD AX, Z13
	TESTQ R13, R13
	JE    q51one

q51loop:
	VBROADCASTI64X4 (DI), Z4
	VBROADCASTI64X4 32(DI), Z20
	Q51ROWSV(8(SI), 8(SI)(BX*1), 4(SI), 4(SI)(BX*1), Z4, Z8, Z0)
	Q51ROWSV(8(SI)(BX*2), 8(SI)(R9*1), 4(SI)(BX*2), 4(SI)(R9*1), Z4, Z9, Z2)
	Q51ROWSV(32(SI), 32(SI)(BX*1), 28(SI), 28(SI)(BX*1), Z20, Z22, Z1)
	Q51ROWSV(32(SI)(BX*2), 32(SI)(R9*1), 28(SI)(BX*2), 28(SI)(R9*1), Z20, Z23, Z3)
	TWOSUMV(24)
	ADDTWOM(26)
	ADVANCEV(48, 64, 16)
	DECQ R13
	JNE  q51loop

q51one:
	TESTQ $1, CX
	JE    q51done
	VBROADCASTI64X4 (DI), Z4
	Q51ROWSV(8(SI), 8(SI)(BX*1), 4(SI), 4(SI)(BX*1), Z4, Z8, Z0)
	Q51ROWSV(8(SI)(BX*2), 8(SI)(R9*1), 4(SI)(BX*2), 4(SI)(R9*1), Z4, Z9, Z2)
	ONESUMV
	ADDONEM

q51done:
	FINISHV

// Nibble shifts: low nibbles from the first 16 bytes of each row, high
// from the second copy.
DATA mvvNibShift<>+0(SB)/8, $0
DATA mvvNibShift<>+8(SB)/8, $0
DATA mvvNibShift<>+16(SB)/8, $4
DATA mvvNibShift<>+24(SB)/8, $4
DATA mvvNibShift<>+32(SB)/8, $0
DATA mvvNibShift<>+40(SB)/8, $0
DATA mvvNibShift<>+48(SB)/8, $4
DATA mvvNibShift<>+56(SB)/8, $4
GLOBL mvvNibShift<>(SB), RODATA|NOPTR, $64

// The reduction leaves rows 0, 2 of the first and second block in dwords
// 0..3 and rows 1, 3 in dwords 8..11, interleaved; this puts them in row
// order, first block then second.
DATA mvvSumOrder<>+0(SB)/4, $0
DATA mvvSumOrder<>+4(SB)/4, $8
DATA mvvSumOrder<>+8(SB)/4, $1
DATA mvvSumOrder<>+12(SB)/4, $9
DATA mvvSumOrder<>+16(SB)/4, $2
DATA mvvSumOrder<>+20(SB)/4, $10
DATA mvvSumOrder<>+24(SB)/4, $3
DATA mvvSumOrder<>+28(SB)/4, $11
DATA mvvSumOrder<>+32(SB)/8, $0
DATA mvvSumOrder<>+40(SB)/8, $0
DATA mvvSumOrder<>+48(SB)/8, $0
DATA mvvSumOrder<>+56(SB)/8, $0
GLOBL mvvSumOrder<>(SB), RODATA|NOPTR, $64

// (dx, sx, dx', sx') spread over four rows each: dx, dx' then sx, sx'.
DATA mvvSpread<>+0(SB)/8, $0
DATA mvvSpread<>+8(SB)/8, $0
DATA mvvSpread<>+16(SB)/8, $0x0000000200000002
DATA mvvSpread<>+24(SB)/8, $0x0000000200000002
DATA mvvSpread<>+32(SB)/8, $0x0000000100000001
DATA mvvSpread<>+40(SB)/8, $0x0000000100000001
DATA mvvSpread<>+48(SB)/8, $0x0000000300000003
DATA mvvSpread<>+56(SB)/8, $0x0000000300000003
GLOBL mvvSpread<>(SB), RODATA|NOPTR, $64
