-- The store under stress: builds, tag/rm loops and prune running at once
-- lose no name and no blob; builds and imports killed with SIGKILL at
-- random moments never leave index.json unreadable or a name pointing at
-- a missing blob, and a later prune removes what they left. The store is
-- checked in process with ocibuild.store.fsck and by oci-image-tool.
local T = require "support"
local fx = require "cli.storefx"
local fsck = require "ocibuild.store.fsck"
local store = require "ocibuild.store"

-- Runs a shell script; fails the test with its output when it fails.
local function script(d, name, text)
  T.write(d .. "/" .. name, "set -u\n" .. text)
  return T.must("sh " .. T.q(d .. "/" .. name))
end

-- fsck of s in this process: the report, asserted free of problems.
local function clean(s, why)
  local st = assert(store.open(s))
  local r = assert(fsck.run(st))
  assert.same({}, r.problems, why)
  return r
end

describe("the store", function()
  it("keeps every name and blob with 8 builds, 8 tag/rm loops and a prune loop at once", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    local base = fx.build(s, d .. "/base", "base", "base:1")
    for i = 1, 8 do T.write(("%s/c%d/f"):format(d, i), ("context %d\n"):format(i):rep(1000)) end
    local out = script(d, "stress.sh", ([[
bin=%s; s=%s; d=%s
pids=""
for i in 1 2 3 4 5 6 7 8; do
  "$bin" --store "$s" build "$d/c$i" -t "build:$i" >"$d/build$i.log" 2>&1 &
  pids="$pids $!"
done
for j in 1 2 3 4 5 6 7 8; do
  (
    set -e
    for k in 1 2; do
      "$bin" --store "$s" tag base:1 "loop$j:$k" >/dev/null
      if [ "$k" -gt 1 ]; then "$bin" --store "$s" rm "loop$j:$((k - 1))" >/dev/null; fi
    done
  ) >"$d/loop$j.log" 2>&1 &
  pids="$pids $!"
done
( while [ ! -e "$d/done" ]; do "$bin" --store "$s" prune >/dev/null || exit 1; sleep 0.05; done ) >"$d/prune.log" 2>&1 &
prune=$!
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
touch "$d/done"
wait "$prune" || failed=$((failed + 1))
echo "failed=$failed"
cat "$d"/*.log
]]):format(T.q(T.bin), T.q(s), T.q(d)))
    assert.matches("^failed=0\n", out)
    local names = {}
    for _, e in ipairs(fx.entries(s)) do names[e.annotations["org.opencontainers.image.ref.name"]] = e.digest end
    local want = { ["base:1"] = base }
    for i = 1, 8 do
      assert.is_string(names["build:" .. i], "build:" .. i)
      want["build:" .. i] = names["build:" .. i]
      want["loop" .. i .. ":2"] = base
    end
    assert.same(want, names)
    clean(s)
    fx.ok(s, "prune")
    local r = clean(s)
    assert.same({ 0, 0 }, { r.unreferenced, r.temps })
    fx.valid(s)
  end)

  it("survives 30 builds and 30 imports killed at random moments; prune then removes what they left", function()
    local d = T.tmpdir(finally)
    local s = d .. "/s"
    fx.build(s, d .. "/base", "base", "base:1")
    T.must(("mkdir -p %s && head -c 3000000 /dev/urandom > %s"):format(T.q(d .. "/big"), T.q(d .. "/big/f")))
    -- an archive to import: one image of a 3 MB layer
    fx.ok(d .. "/src", "build", d .. "/big", "-t", "big:1")
    fx.ok(d .. "/src", "export", "big:1", "-o", d .. "/big.tar")
    -- the kill times vary from run to run; a failure names the seed
    local seed = tonumber(os.getenv("OCIBUILD_SEED") or "") or os.time()
    math.randomseed(seed)
    local rounds = 0
    for _, what in ipairs { "build", "import" } do
      for round = 1, 3 do
        local lines = { ("bin=%s; s=%s; d=%s"):format(T.q(T.bin), T.q(s), T.q(d)) }
        for i = 1, 10 do
          local n = (round - 1) * 10 + i
          local cmd = what == "build"
            and ('"$bin" --store "$s" build "$d/big" -t crash%d:1 --label n=%d'):format(n, n)
            or ('"$bin" --store "$s" import "$d/big.tar" -t imported%d:1'):format(n)
          lines[#lines + 1] = ('( %s >/dev/null 2>&1 & p=$!; sleep %.3f; kill -9 $p 2>/dev/null; wait $p; true ) &')
            :format(cmd, math.random() * 0.4)
        end
        lines[#lines + 1] = "wait"
        script(d, "crash.sh", table.concat(lines, "\n") .. "\n")
        rounds = rounds + 1
        -- after every round: index.json reads strictly, every name reaches whole blobs
        local st = assert(store.open(s))
        assert(st:read_index())
        clean(s, ("%s round %d, OCIBUILD_SEED=%d"):format(what, round, seed))
      end
    end
    assert.equal(6, rounds)
    local code, out, err = fx.run(s, "prune")
    assert.equal(0, code, err)
    assert.matches("^removed ", out)
    local r = clean(s)
    assert.same({ 0, 0 }, { r.unreferenced, r.temps })
    assert.equal("", T.must("ls -A " .. T.q(s .. "/.ocibuild-tmp")))
    for _, e in ipairs(fx.entries(s)) do
      local name = e.annotations["org.opencontainers.image.ref.name"]
      assert.truthy(name == "base:1" or name:match("^crash%d+:1$") or name:match("^imported%d+:1$"), name)
    end
    fx.valid(s)
  end)
end)
