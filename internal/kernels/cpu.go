package kernels

import "github.com/klauspost/cpuid/v2"

func physicalCores() int { return cpuid.CPU.PhysicalCores }

// CPUName describes the processor, for `info` and `bench`.
func CPUName() string { return cpuid.CPU.BrandName }
