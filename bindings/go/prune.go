package q8

import "q8.dev/q8/raw"

// PrunePattern is which weights a pruning mask may remove (q8/prune.h).
type PrunePattern int

const (
	PruneUnstructured PrunePattern = 0 // the smallest |w| anywhere
	PruneNM           PrunePattern = 1 // keep N of every M along the reduction (2:4, ...)
	PruneBlock        PrunePattern = 2 // blocks of BlockRows x BlockCols by norm
	PruneChannel      PrunePattern = 3 // whole output channels by norm
)

// PruneNorm scores blocks and channels.
type PruneNorm int

const (
	PruneNormL2 PruneNorm = 0
	PruneNormL1 PruneNorm = 1
)

// PruneOptions configure PruneMask; DefaultPruneOptions holds the library's defaults.
type PruneOptions struct {
	Pattern              PrunePattern
	Sparsity             float64 // fraction to prune, in [0, 1]
	N, M                 int     // PruneNM: keep N of every M
	BlockRows, BlockCols int     // PruneBlock
	Norm                 PruneNorm
}

// DefaultPruneOptions are the library's defaults (unstructured, 50 %).
func DefaultPruneOptions() PruneOptions {
	o := raw.NewPruneOptions()
	defer raw.DeletePruneOptions(o)
	return PruneOptions{
		Pattern: PrunePattern(o.GetPattern()), Sparsity: o.GetSparsity(), N: o.GetN(), M: o.GetM(),
		BlockRows: int(o.GetBlock_rows()), BlockCols: int(o.GetBlock_cols()), Norm: PruneNorm(o.GetNorm()),
	}
}

// PruneMask is the keep (1) / prune (0) u8 mask of f32 weights under opts.
func PruneMask(weights *Tensor, opts PruneOptions) (mask *Tensor, err error) {
	err = weights.do(func(h raw.Tensor) {
		ro := raw.NewPruneOptions()
		defer raw.DeletePruneOptions(ro)
		ro.SetPattern(raw.Q8_prune_pattern(opts.Pattern))
		ro.SetSparsity(opts.Sparsity)
		ro.SetN(opts.N)
		ro.SetM(opts.M)
		ro.SetBlock_rows(int64(opts.BlockRows))
		ro.SetBlock_cols(int64(opts.BlockCols))
		ro.SetNorm(raw.Q8_prune_norm(opts.Norm))
		mask = newTensor(raw.Prune_mask(h, ro))
	})
	return
}

// PruneApply zeroes the weights where mask is 0 (quantized weights get their zero point).
func PruneApply(weights, mask *Tensor) error { return tensorCall(raw.Prune_apply, weights, mask) }
