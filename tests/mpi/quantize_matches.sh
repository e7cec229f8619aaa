#!/bin/bash
# q8-mpi quantize on 1 and 2 ranks must write the file `q8 quantize` writes, byte for byte.
#   quantize_matches.sh Q8 Q8_MPI MPIRUN DATA_DIR OUT_DIR MODEL OBSERVER ACTIVATIONS
set -euo pipefail
q8=$1 q8mpi=$2 mpirun=$3 data=$4 out=$5 model=$6 observer=$7 activations=$8
mkdir -p "$out"
tag=$model-$observer-$activations
args=("$data/models/digits_$model.onnx" --calib "$data/digits.csv.gz" --input-scale 0.0625
      --observer "$observer" --activations "$activations")
# As root, on loopback only (docs/DISTRIBUTED.md).
# In the sanitizer build: OpenMPI 4.1 leaks in MPI_Init/Finalize (hwloc, its plugins, vasprintf;
# unsymbolizable stacks), so LeakSanitizer is off for these processes; ASan and UBSan stay on.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader OMPI_MCA_oob_tcp_if_include=lo
"$q8" quantize "${args[@]}" -o "$out/$tag-single.q8" --quiet
for np in 1 2; do
  rm -f "$out/$tag-np$np.q8"
  "$mpirun" --oversubscribe -np "$np" "$q8mpi" quantize "${args[@]}" -o "$out/$tag-np$np.q8"
  cmp "$out/$tag-single.q8" "$out/$tag-np$np.q8"
  echo "$tag: $np rank(s) wrote the same bytes as q8 quantize"
done
