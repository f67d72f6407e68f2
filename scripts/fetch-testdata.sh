#!/usr/bin/env bash
# Fetches the public originals of the test data into $RWKV_TESTDATA (default
# ../shared), for people outside the workplace that provides it:
#   models/tiny/      rwkv.cpp's tiny test models and expected logits
#   tokenizers/       the World vocab and the GPT-NeoX 20B tokenizer
#   data/             the LAMBADA test set
# The reference fixtures (fixtures/: per-position logits of the official
# implementation) are generated data with no public original; tests that need
# them skip with a message when they are absent.
set -euo pipefail
dest="${RWKV_TESTDATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared}"
mkdir -p "$dest/models/tiny" "$dest/tokenizers" "$dest/data" "$dest/fixtures"

get() { # url file
  if [ -s "$2" ]; then echo "have $2"; return; fi
  echo "get  $2"
  curl -fL --retry 3 -o "$2.partial" "$1" && mv "$2.partial" "$2"
}

cpp=https://raw.githubusercontent.com/RWKV/rwkv.cpp/master/tests
for m in 4v0-660K 5v1-730K 5v2-730K 6v0-1m 7v0-834K; do
  for t in FP32 FP16 Q5_0 Q5_1; do
    get "$cpp/tiny-rwkv-$m-$t.bin" "$dest/models/tiny/tiny-rwkv-$m-$t.bin"
  done
  get "$cpp/expected-logits-$m.bin" "$dest/models/tiny/expected-logits-$m.bin"
done
for t in Q5_0 Q5_1; do
  get "$cpp/tiny-rwkv-6v0-3m-$t.bin" "$dest/models/tiny/tiny-rwkv-6v0-3m-$t.bin"
done
get "$cpp/expected-logits-6v0-3m.bin" "$dest/models/tiny/expected-logits-6v0-3m.bin"

get https://raw.githubusercontent.com/BlinkDL/ChatRWKV/main/tokenizer/rwkv_vocab_v20230424.txt "$dest/tokenizers/rwkv_vocab_v20230424.txt"
get https://raw.githubusercontent.com/BlinkDL/ChatRWKV/main/20B_tokenizer.json "$dest/tokenizers/20B_tokenizer.json"
get https://raw.githubusercontent.com/BlinkDL/RWKV-LM/main/RWKV-v7/misc/lambada_test.jsonl "$dest/data/lambada_test.jsonl"
echo "test data in $dest"
