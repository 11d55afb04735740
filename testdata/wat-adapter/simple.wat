;; simple.wat — a rigd adapter (ABI v1) written by hand in WebAssembly text,
;; for testdata/simpleminer. It shows that the ABI needs no Go, no SDK, no
;; allocator and no WASI: two host imports, one memory and five exports.
;;
;; Build (from the repository root; the exact command is in simple.wasm.build):
;;
;;   npx --yes -p wabt@1.0.39 wat2wasm testdata/wat-adapter/simple.wat -o testdata/wat-adapter/simple.wasm
;;
;; What it understands (see README.md beside this file):
;;
;;   build_command  profile.algo "" or "sha256d", at least one pool with a url,
;;                  no options, no extra_args  ->  argv
;;                  ["--url", POOL0_URL, ("--user", POOL0_USER,) "--interval", "1s"]
;;   parse_line     "... share accepted ..."        -> share_accepted (cumulative counts)
;;                  "... share rejected: REASON"    -> share_rejected (cumulative counts, reason)
;;                  "... hashrate: N[.F] H/s ..."   -> hashrate event with hashrate_hs N[.F]
;;                  and partial stats: hashrate_hs, accepted, rejected, last_reject_reason
;;   reset          zero the share counters
;;
;; Every call writes one JSON document. Strings copied from the input are
;; escaped and checked as UTF-8 (invalid bytes become U+FFFD), numbers are
;; normalised to valid JSON, keywords are looked for only in the first 512
;; bytes of a line and reasons are cut at 256 bytes, so no input can make it
;; trap, loop for long or write invalid or oversized output.
(module
  ;; input_read(buf, limit) -> len: copies the call's input to buf if it fits
  ;; in limit bytes and always returns its length (limit 0 probes).
  (import "miner_adapter_v1" "input_read" (func $input_read (param i32 i32) (result i32)))
  ;; output_write(ptr, len) -> 0|-1: the host copies the bytes at once.
  (import "miner_adapter_v1" "output_write" (func $output_write (param i32 i32) (result i32)))

  ;; Memory layout
  ;;   0x00f00 - 0x00f1f  scratch for decimal digits
  ;;   0x01000 - 0x037ff  constant strings (NUL-terminated, data segments below)
  ;;   0x10000 - 0x1ffff  output buffer, flushed with output_write when full
  ;;   0x20000 -          the call's input; memory grows to fit it
  (memory (export "memory") 3)

  (global $OUT i32 (i32.const 0x10000))
  (global $OUT_END i32 (i32.const 0x20000))
  (global $IN i32 (i32.const 0x20000))
  (global $DIGITS_END i32 (i32.const 0x0f20))
  (global $MAX_IN i32 (i32.const 0x1000000))  ;; 16 MiB: larger inputs are refused
  (global $BUDGET i32 (i32.const 0xf0000))    ;; 960 KiB: no more events past this (the host caps output at 1 MiB)
  (global $SCAN i32 (i32.const 512))          ;; keywords are looked for in a line's first 512 bytes
  (global $REASON_MAX i32 (i32.const 256))    ;; reject reasons are cut at 256 bytes

  ;; Session state (parse_line is called on one instance per miner).
  (global $accepted (mut i64) (i64.const 0))
  (global $rejected (mut i64) (i64.const 0))

  ;; Per-call state.
  (global $out (mut i32) (i32.const 0x10000))  ;; next free byte of the output buffer
  (global $flushed (mut i32) (i32.const 0))    ;; bytes already handed to output_write
  (global $first (mut i32) (i32.const 1))      ;; no event written yet
  (global $share_seen (mut i32) (i32.const 0))
  (global $reason_seen (mut i32) (i32.const 0))
  (global $reason (mut i32) (i32.const 0))     ;; last reject reason [reason, reason_end)
  (global $reason_end (mut i32) (i32.const 0))
  (global $rate_seen (mut i32) (i32.const 0))
  (global $rate (mut i32) (i32.const 0))       ;; last hashrate: integer digits [rate, rate_end)
  (global $rate_end (mut i32) (i32.const 0))
  (global $frac (mut i32) (i32.const 0))       ;; and fraction digits [frac, frac_end), frac 0 if none
  (global $frac_end (mut i32) (i32.const 0))

  ;; ---- constant strings ----------------------------------------------------

  (global $META i32 (i32.const 0x1000))
  (data (i32.const 0x1000)
    "{\"name\":\"simple\",\"display_name\":\"Simple Miner (WAT adapter)\",\"version\":\"1.0.0\",\"abi_minor\":0,"
    "\"homepage\":\"https://github.com/rigd/rigd/tree/main/testdata/simpleminer\",\"license\":\"MIT\","
    "\"algorithms\":[{\"name\":\"sha256d\",\"devices\":[\"cpu\"]}],"
    "\"release\":{\"github\":\"\",\"tag_prefix\":\"\",\"assets\":[],\"checksum\":{\"format\":\"none\"}},"
    "\"version_probe\":{\"args\":[\"--version\"],\"regex\":\"simpleminer ([0-9]+[.][0-9]+[.][0-9]+)\"},"
    "\"api\":{\"kind\":\"\"},\"stdin_commands\":[],\"options\":[],\"capabilities\":[]}\00")

  ;; Keywords.
  (global $K_ACCEPTED i32 (i32.const 0x1800))
  (data (i32.const 0x1800) "share accepted\00")
  (global $K_REJECTED i32 (i32.const 0x1840))
  (data (i32.const 0x1840) "share rejected\00")
  (global $K_HASHRATE i32 (i32.const 0x1880))
  (data (i32.const 0x1880) "hashrate: \00")
  (global $K_HS i32 (i32.const 0x18c0))
  (data (i32.const 0x18c0) "H/s\00")
  (global $K_ALGO i32 (i32.const 0x1900))
  (data (i32.const 0x1900) "\"algo\":\"\00")
  (global $K_SHA256D i32 (i32.const 0x1940))
  (data (i32.const 0x1940) "sha256d\00")
  (global $K_OPTIONS i32 (i32.const 0x1980))
  (data (i32.const 0x1980) "\"options\":\00")
  (global $K_EXTRA i32 (i32.const 0x19c0))
  (data (i32.const 0x19c0) "\"extra_args\":\00")
  (global $K_POOLS i32 (i32.const 0x1a00))
  (data (i32.const 0x1a00) "\"pools\":\00")
  (global $K_POOL0 i32 (i32.const 0x1a40))
  (data (i32.const 0x1a40) "[{\"url\":\"\00")
  (global $K_USER i32 (i32.const 0x1a80))
  (data (i32.const 0x1a80) ",\"user\":\"\00")
  (global $K_ESCAPES i32 (i32.const 0x1ac0))
  (data (i32.const 0x1ac0) "\"\\/bfnrt\00")

  ;; Output pieces.
  (global $O_EVENTS i32 (i32.const 0x2000))
  (data (i32.const 0x2000) "{\"events\":[\00")
  (global $O_ACCEPTED i32 (i32.const 0x2040))
  (data (i32.const 0x2040) "{\"type\":\"share_accepted\",\"accepted\":\00")
  (global $O_REJECTED i32 (i32.const 0x2080))
  (data (i32.const 0x2080) "{\"type\":\"share_rejected\",\"accepted\":\00")
  (global $O_REJ_COUNT i32 (i32.const 0x20c0))
  (data (i32.const 0x20c0) ",\"rejected\":\00")
  (global $O_REASON i32 (i32.const 0x2100))
  (data (i32.const 0x2100) ",\"reason\":\"\00")
  (global $O_HASHRATE i32 (i32.const 0x2140))
  (data (i32.const 0x2140) "{\"type\":\"hashrate\",\"hashrate_hs\":\00")
  (global $O_STATS i32 (i32.const 0x2180))
  (data (i32.const 0x2180) ",\"stats\":{\00")
  (global $O_S_RATE i32 (i32.const 0x21c0))
  (data (i32.const 0x21c0) "\"hashrate_hs\":\00")
  (global $O_S_ACCEPTED i32 (i32.const 0x2200))
  (data (i32.const 0x2200) "\"accepted\":\00")
  (global $O_S_REASON i32 (i32.const 0x2240))
  (data (i32.const 0x2240) ",\"last_reject_reason\":\"\00")
  (global $O_ARGS i32 (i32.const 0x2280))
  (data (i32.const 0x2280) "{\"args\":[\"--url\",\"\00")
  (global $O_ARGS_USER i32 (i32.const 0x22c0))
  (data (i32.const 0x22c0) "\",\"--user\",\"\00")
  (global $O_ARGS_END i32 (i32.const 0x2300))
  (data (i32.const 0x2300) "\",\"--interval\",\"1s\"]}\00")
  (global $O_U00 i32 (i32.const 0x2340))
  (data (i32.const 0x2340) "\\u00\00")
  (global $O_FFFD i32 (i32.const 0x2380))
  (data (i32.const 0x2380) "\\ufffd\00")

  ;; Adapter errors (status 1).
  (global $E_TOO_LARGE i32 (i32.const 0x3000))
  (data (i32.const 0x3000) "{\"code\":\"bad_input\",\"message\":\"input is larger than 16 MiB\",\"retryable\":false}\00")
  (global $E_NO_STREAM i32 (i32.const 0x3100))
  (data (i32.const 0x3100) "{\"code\":\"bad_input\",\"message\":\"parse_line input has no stream byte\",\"retryable\":false}\00")
  (global $E_BAD_REQUEST i32 (i32.const 0x3200))
  (data (i32.const 0x3200) "{\"code\":\"bad_input\",\"message\":\"build request is not the JSON the host sends\",\"retryable\":false}\00")
  (global $E_ALGO i32 (i32.const 0x3300))
  (data (i32.const 0x3300) "{\"code\":\"invalid_profile\",\"message\":\"simpleminer mines only sha256d\",\"retryable\":false}\00")
  (global $E_NO_POOL i32 (i32.const 0x3400))
  (data (i32.const 0x3400) "{\"code\":\"invalid_profile\",\"message\":\"a pool is required\",\"retryable\":false}\00")
  (global $E_NO_URL i32 (i32.const 0x3500))
  (data (i32.const 0x3500) "{\"code\":\"invalid_profile\",\"message\":\"the first pool has no url\",\"retryable\":false}\00")
  (global $E_OPTIONS i32 (i32.const 0x3600))
  (data (i32.const 0x3600) "{\"code\":\"unknown_option\",\"message\":\"the simple adapter has no options\",\"retryable\":false}\00")
  (global $E_EXTRA i32 (i32.const 0x3700))
  (data (i32.const 0x3700) "{\"code\":\"forbidden\",\"message\":\"the simple adapter accepts no extra_args\",\"retryable\":false}\00")

  ;; ---- output --------------------------------------------------------------

  ;; $begin starts a call's output.
  (func $begin
    (global.set $out (global.get $OUT))
    (global.set $flushed (i32.const 0)))

  ;; $flush hands the buffered output to the host.
  (func $flush
    (local $n i32)
    (local.set $n (i32.sub (global.get $out) (global.get $OUT)))
    (if (local.get $n)
      (then
        (drop (call $output_write (global.get $OUT) (local.get $n)))
        (global.set $flushed (i32.add (global.get $flushed) (local.get $n)))
        (global.set $out (global.get $OUT)))))

  ;; $written is the number of output bytes of this call so far.
  (func $written (result i32)
    (i32.add (global.get $flushed) (i32.sub (global.get $out) (global.get $OUT))))

  (func $put (param $b i32)
    (if (i32.ge_u (global.get $out) (global.get $OUT_END))
      (then (call $flush)))
    (i32.store8 (global.get $out) (local.get $b))
    (global.set $out (i32.add (global.get $out) (i32.const 1))))

  ;; $puts writes a NUL-terminated constant.
  (func $puts (param $p i32)
    (local $c i32)
    (block $done
      (loop $next
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $done (i32.eqz (local.get $c)))
        (call $put (local.get $c))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next))))

  ;; $put_raw writes the bytes [p, e) as they are.
  (func $put_raw (param $p i32) (param $e i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (call $put (i32.load8_u (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next))))

  ;; $put_u64 writes v in decimal.
  (func $put_u64 (param $v i64)
    (local $p i32)
    (local.set $p (global.get $DIGITS_END))
    (loop $next
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p) (i64.add (i64.const 48) (i64.rem_u (local.get $v) (i64.const 10))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $next (i64.ne (local.get $v) (i64.const 0))))
    (call $put_raw (local.get $p) (global.get $DIGITS_END)))

  (func $hex (param $d i32) (result i32)
    (select
      (i32.add (local.get $d) (i32.const 48))  ;; '0'..'9'
      (i32.add (local.get $d) (i32.const 87))  ;; 'a'..'f'
      (i32.lt_u (local.get $d) (i32.const 10))))

  ;; $utf8_len returns the length of the valid UTF-8 sequence starting with
  ;; the non-ASCII byte at p and ending by e, or 0 if there is none
  ;; (overlong forms, surrogates and code points above U+10FFFF are invalid).
  (func $utf8_len (param $p i32) (param $e i32) (result i32)
    (local $c i32) (local $n i32) (local $lo i32) (local $hi i32) (local $i i32)
    (local.set $c (i32.load8_u (local.get $p)))
    (local.set $lo (i32.const 0x80))
    (local.set $hi (i32.const 0xbf))
    (if (i32.lt_u (local.get $c) (i32.const 0xc2)) (then (return (i32.const 0))))
    (if (i32.le_u (local.get $c) (i32.const 0xdf))
      (then (local.set $n (i32.const 2)))
      (else
        (if (i32.le_u (local.get $c) (i32.const 0xef))
          (then
            (local.set $n (i32.const 3))
            (if (i32.eq (local.get $c) (i32.const 0xe0)) (then (local.set $lo (i32.const 0xa0))))
            (if (i32.eq (local.get $c) (i32.const 0xed)) (then (local.set $hi (i32.const 0x9f)))))
          (else
            (if (i32.le_u (local.get $c) (i32.const 0xf4))
              (then
                (local.set $n (i32.const 4))
                (if (i32.eq (local.get $c) (i32.const 0xf0)) (then (local.set $lo (i32.const 0x90))))
                (if (i32.eq (local.get $c) (i32.const 0xf4)) (then (local.set $hi (i32.const 0x8f)))))
              (else (return (i32.const 0))))))))
    (if (i32.gt_u (i32.add (local.get $p) (local.get $n)) (local.get $e)) (then (return (i32.const 0))))
    (local.set $c (i32.load8_u offset=1 (local.get $p)))
    (if (i32.or (i32.lt_u (local.get $c) (local.get $lo)) (i32.gt_u (local.get $c) (local.get $hi)))
      (then (return (i32.const 0))))
    (local.set $i (i32.const 2))
    (block $ok
      (loop $next
        (br_if $ok (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.and (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 0xc0)) (i32.const 0x80))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; $put_str writes the bytes [p, e) as the inside of a JSON string:
  ;; quote, backslash and control characters escaped, valid UTF-8 kept,
  ;; each invalid byte replaced by \ufffd.
  (func $put_str (param $p i32) (param $e i32)
    (local $c i32) (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.lt_u (local.get $c) (i32.const 0x80))
          (then
            (if (i32.or (i32.eq (local.get $c) (i32.const 0x22)) (i32.eq (local.get $c) (i32.const 0x5c)))
              (then
                (call $put (i32.const 0x5c))
                (call $put (local.get $c)))
              (else
                (if (i32.lt_u (local.get $c) (i32.const 0x20))
                  (then
                    (call $puts (global.get $O_U00))
                    (call $put (call $hex (i32.shr_u (local.get $c) (i32.const 4))))
                    (call $put (call $hex (i32.and (local.get $c) (i32.const 15)))))
                  (else (call $put (local.get $c))))))
            (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (local.set $n (call $utf8_len (local.get $p) (local.get $e)))
            (if (local.get $n)
              (then
                (call $put_raw (local.get $p) (i32.add (local.get $p) (local.get $n)))
                (local.set $p (i32.add (local.get $p) (local.get $n))))
              (else
                (call $puts (global.get $O_FFFD))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))))))
        (br $next))))

  ;; $fail writes an adapter error document and returns status 1.
  (func $fail (param $doc i32) (result i32)
    (call $begin)
    (call $puts (local.get $doc))
    (call $flush)
    (i32.const 1))

  ;; ---- input ---------------------------------------------------------------

  ;; $read_input copies the call's input to $IN, growing memory to fit, and
  ;; returns its length, or -1 if it is over $MAX_IN or memory cannot grow.
  (func $read_input (result i32)
    (local $n i32) (local $pages i32)
    (local.set $n (call $input_read (i32.const 0) (i32.const 0)))
    (if (i32.gt_u (local.get $n) (global.get $MAX_IN)) (then (return (i32.const -1))))
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $pages
      (i32.shr_u (i32.add (i32.add (global.get $IN) (local.get $n)) (i32.const 0xffff)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const -1))))))
    (drop (call $input_read (global.get $IN) (local.get $n)))
    (local.get $n))

  ;; $match reports whether the NUL-terminated constant pat is at p, inside [p, e).
  (func $match (param $p i32) (param $e i32) (param $pat i32) (result i32)
    (local $c i32)
    (loop $next
      (local.set $c (i32.load8_u (local.get $pat)))
      (if (i32.eqz (local.get $c)) (then (return (i32.const 1))))
      (if (i32.ge_u (local.get $p) (local.get $e)) (then (return (i32.const 0))))
      (if (i32.ne (i32.load8_u (local.get $p)) (local.get $c)) (then (return (i32.const 0))))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (local.set $pat (i32.add (local.get $pat) (i32.const 1)))
      (br $next))
    (unreachable))

  ;; $find returns the first position of pat in [s, e), or -1.
  (func $find (param $s i32) (param $e i32) (param $pat i32) (result i32)
    (block $none
      (loop $next
        (br_if $none (i32.ge_u (local.get $s) (local.get $e)))
        (if (call $match (local.get $s) (local.get $e) (local.get $pat))
          (then (return (local.get $s))))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $next)))
    (i32.const -1))

  ;; $find_newline returns the position of the first '\n' in [s, e), or e.
  (func $find_newline (param $s i32) (param $e i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $s) (local.get $e)))
        (br_if $done (i32.eq (i32.load8_u (local.get $s)) (i32.const 10)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $next)))
    (local.get $s))

  ;; $skip returns the first position in [p, e) that is not byte b, or e.
  (func $skip (param $p i32) (param $e i32) (param $b i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (br_if $done (i32.ne (i32.load8_u (local.get $p)) (local.get $b)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; $skip_digits returns the first position in [p, e) that is not 0-9, or e.
  (func $skip_digits (param $p i32) (param $e i32) (result i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (br_if $done (i32.gt_u (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)) (i32.const 9)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; $string_end returns the position of the quote that closes the JSON
  ;; string whose contents start at p, or -1 if there is none before e.
  (func $string_end (param $p i32) (param $e i32) (result i32)
    (local $c i32)
    (loop $next
      (if (i32.ge_u (local.get $p) (local.get $e)) (then (return (i32.const -1))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.eq (local.get $c) (i32.const 0x22)) (then (return (local.get $p))))
      (local.set $p (i32.add (local.get $p)
        (select (i32.const 2) (i32.const 1) (i32.eq (local.get $c) (i32.const 0x5c)))))
      (br $next))
    (unreachable))

  ;; $valid_string reports whether [p, e) is valid as the contents of a JSON
  ;; string: no control characters, known escapes, valid UTF-8. The host
  ;; always sends such strings; this keeps other input from being copied
  ;; into the output.
  (func $valid_string (param $p i32) (param $e i32) (result i32)
    (local $c i32) (local $n i32) (local $i i32)
    (loop $next
      (if (i32.ge_u (local.get $p) (local.get $e)) (then (return (i32.const 1))))
      (local.set $c (i32.load8_u (local.get $p)))
      (if (i32.lt_u (local.get $c) (i32.const 0x20)) (then (return (i32.const 0))))
      (if (i32.eq (local.get $c) (i32.const 0x5c))
        (then
          (if (i32.ge_u (i32.add (local.get $p) (i32.const 1)) (local.get $e)) (then (return (i32.const 0))))
          (local.set $c (i32.load8_u offset=1 (local.get $p)))
          (if (i32.eq (local.get $c) (i32.const 0x75))  ;; \uXXXX
            (then
              (if (i32.gt_u (i32.add (local.get $p) (i32.const 6)) (local.get $e)) (then (return (i32.const 0))))
              (local.set $i (i32.const 2))
              (loop $hex
                (if (i32.eqz (call $is_hex (i32.load8_u (i32.add (local.get $p) (local.get $i)))))
                  (then (return (i32.const 0))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $hex (i32.lt_u (local.get $i) (i32.const 6))))
              (local.set $p (i32.add (local.get $p) (i32.const 6))))
            (else
              ;; one of " \ / b f n r t
              (if (i32.eqz (call $match_any (local.get $c) (global.get $K_ESCAPES))) (then (return (i32.const 0))))
              (local.set $p (i32.add (local.get $p) (i32.const 2))))))
        (else
          (if (i32.lt_u (local.get $c) (i32.const 0x80))
            (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
            (else
              (local.set $n (call $utf8_len (local.get $p) (local.get $e)))
              (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
              (local.set $p (i32.add (local.get $p) (local.get $n)))))))
      (br $next))
    (unreachable))

  (func $is_hex (param $c i32) (result i32)
    (i32.or
      (i32.le_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 9))                         ;; 0-9
      (i32.le_u (i32.sub (i32.or (local.get $c) (i32.const 0x20)) (i32.const 97)) (i32.const 5))))  ;; a-f A-F

  ;; $match_any reports whether byte c is one of the NUL-terminated constant set.
  (func $match_any (param $c i32) (param $set i32) (result i32)
    (local $b i32)
    (loop $next
      (local.set $b (i32.load8_u (local.get $set)))
      (if (i32.eqz (local.get $b)) (then (return (i32.const 0))))
      (if (i32.eq (local.get $b) (local.get $c)) (then (return (i32.const 1))))
      (local.set $set (i32.add (local.get $set) (i32.const 1)))
      (br $next))
    (unreachable))

  ;; ---- parse_line ----------------------------------------------------------

  ;; $event_open starts an event: a comma after the first one. It returns 0
  ;; (write nothing) once the output is near the host's 1 MiB cap; counts
  ;; and stats stay right.
  (func $event_open (result i32)
    (if (i32.gt_u (call $written) (global.get $BUDGET)) (then (return (i32.const 0))))
    (if (i32.eqz (global.get $first)) (then (call $put (i32.const 0x2c))))
    (global.set $first (i32.const 0))
    (i32.const 1))

  (func $put_rate
    (call $put_raw (global.get $rate) (global.get $rate_end))
    (if (global.get $frac)
      (then
        (call $put (i32.const 0x2e))
        (call $put_raw (global.get $frac) (global.get $frac_end)))))

  (func $put_counts
    (call $put_u64 (global.get $accepted))
    (call $puts (global.get $O_REJ_COUNT))
    (call $put_u64 (global.get $rejected)))

  ;; $parse_rate reads "N[.F] H/s" at p (spaces allowed before N and H/s)
  ;; into $rate/$frac and returns 1, or returns 0 and changes nothing. N is
  ;; written without leading zeros and must have at most 15 digits; F is
  ;; cut at 6 digits.
  (func $parse_rate (param $p i32) (param $e i32) (result i32)
    (local $s i32) (local $q i32) (local $f i32) (local $fe i32)
    (local.set $s (call $skip (local.get $p) (local.get $e) (i32.const 0x20)))
    (local.set $q (call $skip_digits (local.get $s) (local.get $e)))
    (if (i32.eq (local.get $q) (local.get $s)) (then (return (i32.const 0))))
    ;; drop leading zeros, keeping the last digit
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (i32.add (local.get $s) (i32.const 1)) (local.get $q)))
        (br_if $done (i32.ne (i32.load8_u (local.get $s)) (i32.const 48)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $next)))
    (if (i32.gt_u (i32.sub (local.get $q) (local.get $s)) (i32.const 15)) (then (return (i32.const 0))))
    (local.set $p (local.get $q))
    (local.set $f (i32.const 0))
    (local.set $fe (i32.const 0))
    (if (i32.lt_u (local.get $p) (local.get $e))
      (then
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x2e))
          (then
            (local.set $fe (call $skip_digits (i32.add (local.get $p) (i32.const 1)) (local.get $e)))
            (if (i32.gt_u (local.get $fe) (i32.add (local.get $p) (i32.const 1)))
              (then
                (local.set $f (i32.add (local.get $p) (i32.const 1)))
                (local.set $p (local.get $fe))
                (if (i32.gt_u (i32.sub (local.get $fe) (local.get $f)) (i32.const 6))
                  (then (local.set $fe (i32.add (local.get $f) (i32.const 6)))))))))))
    (local.set $p (call $skip (local.get $p) (local.get $e) (i32.const 0x20)))
    (if (i32.eqz (call $match (local.get $p) (local.get $e) (global.get $K_HS))) (then (return (i32.const 0))))
    (global.set $rate (local.get $s))
    (global.set $rate_end (local.get $q))
    (global.set $frac (local.get $f))
    (global.set $frac_end (local.get $fe))
    (i32.const 1))

  ;; $line parses one console line [s, e).
  (func $line (param $s i32) (param $e i32)
    (local $w i32) (local $i i32) (local $r i32) (local $re i32)
    ;; a trailing CR is not part of the text
    (if (i32.gt_u (local.get $e) (local.get $s))
      (then
        (if (i32.eq (i32.load8_u (i32.sub (local.get $e) (i32.const 1))) (i32.const 13))
          (then (local.set $e (i32.sub (local.get $e) (i32.const 1)))))))
    (local.set $w (i32.add (local.get $s) (global.get $SCAN)))
    (if (i32.gt_u (local.get $w) (local.get $e)) (then (local.set $w (local.get $e))))

    ;; share rejected[: REASON]
    (local.set $i (call $find (local.get $s) (local.get $w) (global.get $K_REJECTED)))
    (if (i32.ne (local.get $i) (i32.const -1))
      (then
        (global.set $rejected (i64.add (global.get $rejected) (i64.const 1)))
        (global.set $share_seen (i32.const 1))
        (local.set $r (i32.add (local.get $i) (i32.const 14)))
        (if (i32.lt_u (local.get $r) (local.get $e))
          (then
            (if (i32.eq (i32.load8_u (local.get $r)) (i32.const 0x3a))
              (then (local.set $r (i32.add (local.get $r) (i32.const 1)))))))
        (local.set $r (call $skip (local.get $r) (local.get $e) (i32.const 0x20)))
        (local.set $re (local.get $e))
        (if (i32.gt_u (i32.sub (local.get $re) (local.get $r)) (global.get $REASON_MAX))
          (then (local.set $re (i32.add (local.get $r) (global.get $REASON_MAX)))))
        ;; trailing spaces are not part of the reason
        (block $done
          (loop $next
            (br_if $done (i32.le_u (local.get $re) (local.get $r)))
            (br_if $done (i32.ne (i32.load8_u (i32.sub (local.get $re) (i32.const 1))) (i32.const 0x20)))
            (local.set $re (i32.sub (local.get $re) (i32.const 1)))
            (br $next)))
        (global.set $reason_seen (i32.const 1))
        (global.set $reason (local.get $r))
        (global.set $reason_end (local.get $re))
        (if (call $event_open)
          (then
            (call $puts (global.get $O_REJECTED))
            (call $put_counts)
            (call $puts (global.get $O_REASON))
            (call $put_str (local.get $r) (local.get $re))
            (call $put (i32.const 0x22))
            (call $put (i32.const 0x7d))))
        (return)))

    ;; share accepted
    (if (i32.ne (call $find (local.get $s) (local.get $w) (global.get $K_ACCEPTED)) (i32.const -1))
      (then
        (global.set $accepted (i64.add (global.get $accepted) (i64.const 1)))
        (global.set $share_seen (i32.const 1))
        (if (call $event_open)
          (then
            (call $puts (global.get $O_ACCEPTED))
            (call $put_counts)
            (call $put (i32.const 0x7d))))
        (return)))

    ;; hashrate: N[.F] H/s
    (local.set $i (call $find (local.get $s) (local.get $w) (global.get $K_HASHRATE)))
    (if (i32.ne (local.get $i) (i32.const -1))
      (then
        (if (call $parse_rate (i32.add (local.get $i) (i32.const 10)) (local.get $e))
          (then
            (global.set $rate_seen (i32.const 1))
            (if (call $event_open)
              (then
                (call $puts (global.get $O_HASHRATE))
                (call $put_rate)
                (call $put (i32.const 0x7d)))))))))

  ;; adapter_parse_line: input is a stream byte (stdout or stderr, parsed
  ;; alike) and lines separated by '\n'; output is a LineResult.
  (func (export "adapter_parse_line") (result i32)
    (local $n i32) (local $p i32) (local $e i32) (local $eol i32)
    (call $begin)
    (local.set $n (call $read_input))
    (if (i32.eq (local.get $n) (i32.const -1)) (then (return (call $fail (global.get $E_TOO_LARGE)))))
    (if (i32.eqz (local.get $n)) (then (return (call $fail (global.get $E_NO_STREAM)))))
    (global.set $first (i32.const 1))
    (global.set $share_seen (i32.const 0))
    (global.set $reason_seen (i32.const 0))
    (global.set $rate_seen (i32.const 0))
    (call $puts (global.get $O_EVENTS))
    (local.set $p (i32.add (global.get $IN) (i32.const 1)))
    (local.set $e (i32.add (global.get $IN) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $eol (call $find_newline (local.get $p) (local.get $e)))
        (call $line (local.get $p) (local.get $eol))
        (local.set $p (i32.add (local.get $eol) (i32.const 1)))
        (br $next)))
    (call $put (i32.const 0x5d))  ;; ]
    (if (i32.or (global.get $rate_seen) (global.get $share_seen))
      (then
        (call $puts (global.get $O_STATS))
        (if (global.get $rate_seen)
          (then
            (call $puts (global.get $O_S_RATE))
            (call $put_rate)))
        (if (global.get $share_seen)
          (then
            (if (global.get $rate_seen) (then (call $put (i32.const 0x2c))))
            (call $puts (global.get $O_S_ACCEPTED))
            (call $put_counts)
            (if (global.get $reason_seen)
              (then
                (call $puts (global.get $O_S_REASON))
                (call $put_str (global.get $reason) (global.get $reason_end))
                (call $put (i32.const 0x22))))))
        (call $put (i32.const 0x7d))))
    (call $put (i32.const 0x7d))
    (call $flush)
    (i32.const 0))

  ;; ---- the other exports ---------------------------------------------------

  ;; adapter_abi_v1 is the ABI v1 marker; the host never calls it.
  (func (export "adapter_abi_v1"))

  ;; adapter_metadata: the static Metadata document.
  (func (export "adapter_metadata") (result i32)
    (call $begin)
    (call $puts (global.get $META))
    (call $flush)
    (i32.const 0))

  ;; adapter_reset: a new miner process starts its counters at zero.
  (func (export "adapter_reset") (result i32)
    (global.set $accepted (i64.const 0))
    (global.set $rejected (i64.const 0))
    (i32.const 0))

  ;; adapter_build_command: input is the host's BuildRequest JSON
  ;; (json.Marshal's form: keys in field order, no spaces); output is
  ;; {"args": ["--url", URL, ("--user", USER,) "--interval", "1s"]}. URL and
  ;; USER are the first pool's, copied as JSON string contents, escapes and
  ;; all, so they stay valid JSON. Strings cannot contain an unescaped quote,
  ;; so the first "pools": (and the first "algo":") is the profile's own key.
  (func (export "adapter_build_command") (result i32)
    (local $n i32) (local $e i32) (local $p i32) (local $q i32)
    (local $url i32) (local $url_end i32) (local $user i32) (local $user_end i32)
    (call $begin)
    (local.set $n (call $read_input))
    (if (i32.eq (local.get $n) (i32.const -1)) (then (return (call $fail (global.get $E_TOO_LARGE)))))
    (local.set $e (i32.add (global.get $IN) (local.get $n)))

    ;; algo: empty or sha256d
    (local.set $p (call $find (global.get $IN) (local.get $e) (global.get $K_ALGO)))
    (if (i32.ne (local.get $p) (i32.const -1))
      (then
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $q (call $string_end (local.get $p) (local.get $e)))
        (if (i32.eq (local.get $q) (i32.const -1)) (then (return (call $fail (global.get $E_BAD_REQUEST)))))
        (if (i32.ne (local.get $q) (local.get $p))
          (then
            (if (i32.or
                  (i32.ne (i32.sub (local.get $q) (local.get $p)) (i32.const 7))
                  (i32.eqz (call $match (local.get $p) (local.get $q) (global.get $K_SHA256D))))
              (then (return (call $fail (global.get $E_ALGO)))))))))
    (if (i32.ne (call $find (global.get $IN) (local.get $e) (global.get $K_OPTIONS)) (i32.const -1))
      (then (return (call $fail (global.get $E_OPTIONS)))))
    (if (i32.ne (call $find (global.get $IN) (local.get $e) (global.get $K_EXTRA)) (i32.const -1))
      (then (return (call $fail (global.get $E_EXTRA)))))

    ;; the first pool's url and user
    (local.set $p (call $find (global.get $IN) (local.get $e) (global.get $K_POOLS)))
    (if (i32.eq (local.get $p) (i32.const -1)) (then (return (call $fail (global.get $E_BAD_REQUEST)))))
    (local.set $p (i32.add (local.get $p) (i32.const 8)))
    (if (i32.eqz (call $match (local.get $p) (local.get $e) (global.get $K_POOL0)))
      (then (return (call $fail (global.get $E_NO_POOL)))))
    (local.set $url (i32.add (local.get $p) (i32.const 9)))
    (local.set $url_end (call $string_end (local.get $url) (local.get $e)))
    (if (i32.eq (local.get $url_end) (i32.const -1)) (then (return (call $fail (global.get $E_BAD_REQUEST)))))
    (if (i32.eq (local.get $url_end) (local.get $url)) (then (return (call $fail (global.get $E_NO_URL)))))
    (if (i32.eqz (call $valid_string (local.get $url) (local.get $url_end)))
      (then (return (call $fail (global.get $E_BAD_REQUEST)))))
    (local.set $p (i32.add (local.get $url_end) (i32.const 1)))
    (if (call $match (local.get $p) (local.get $e) (global.get $K_USER))
      (then
        (local.set $user (i32.add (local.get $p) (i32.const 9)))
        (local.set $user_end (call $string_end (local.get $user) (local.get $e)))
        (if (i32.eq (local.get $user_end) (i32.const -1)) (then (return (call $fail (global.get $E_BAD_REQUEST)))))
        (if (i32.eqz (call $valid_string (local.get $user) (local.get $user_end)))
          (then (return (call $fail (global.get $E_BAD_REQUEST)))))))

    (call $puts (global.get $O_ARGS))
    (call $put_raw (local.get $url) (local.get $url_end))
    (if (i32.gt_u (local.get $user_end) (local.get $user))
      (then
        (call $puts (global.get $O_ARGS_USER))
        (call $put_raw (local.get $user) (local.get $user_end))))
    (call $puts (global.get $O_ARGS_END))
    (call $flush)
    (i32.const 0))
)
