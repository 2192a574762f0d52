-- Rebuilds after every kind of edit, one after the other on one tree:
-- each rebuild in the store that saw the tree before must give the digest
-- a cold build of the same tree gives in a fresh store (with another thread
-- count), for gzip and zstd layers. The tree spans many blocks (large files
-- cut into slices, medium ones, many small ones), so edits at its start,
-- middle and end, insertions and deletions all land in different blocks.
local T = require "support"

-- Deterministic text: n bytes of numbered lines from seed.
local function text(n, seed)
  local parts, len, x = {}, 0, seed
  while len < n do
    x = (x * 1103515245 + 12345) % 2147483648
    local l = ("%d line %d of the edit spec: %d\n"):format(seed, #parts, x % 100003)
    parts[#parts + 1] = l
    len = len + #l
  end
  return table.concat(parts):sub(1, n)
end

local function tree(ctx)
  T.write(ctx .. "/a-big/first.log", text(2600000, 1))
  for d = 1, 6 do
    for f = 1, 30 do
      T.write(("%s/d%d/f%02d.txt"):format(ctx, d, f), text(2000 + (d * 31 + f * 17) % 9 * 4000, d * 100 + f))
    end
    T.write(("%s/d%d/mid.bin"):format(ctx, d), text(300000 + d * 7000, d))
  end
  T.write(ctx .. "/m-big/middle.log", text(2300000, 2))
  T.write(ctx .. "/z-last/z.txt", text(5000, 3))
  T.must(("cd %s && ln -s d1/f01.txt link && ln d2/f02.txt d2/hard"):format(T.q(ctx)))
end

local function sh(ctx, cmd) T.must(("cd %s && %s"):format(T.q(ctx), cmd)) end

-- The edits, in the order they are made; each names what it does.
local EDITS = {
  { "the first small file's bytes, same size", "printf X | dd of=d1/f01.txt bs=1 seek=5 conv=notrunc status=none" },
  { "a file appended to in the middle", "echo more >> d3/f15.txt" },
  { "the last file truncated", "truncate -s 100 z-last/z.txt" },
  { "a file inserted at the start", "echo new > 0-first.txt" },
  { "a file inserted in the middle", "echo new > d3/f15b.txt" },
  { "a file inserted at the end", "echo new > zz-end.txt" },
  { "the first file deleted", "rm 0-first.txt" },
  { "a file deleted in the middle", "rm d4/f10.txt" },
  { "the last file deleted", "rm zz-end.txt" },
  { "the middle of a large file, same size",
    "printf YYYY | dd of=m-big/middle.log bs=1 seek=1200000 conv=notrunc status=none" },
  { "a large file at the start appended to", "echo tail >> a-big/first.log" },
  { "a small file grown past a block", "head -c 1500000 m-big/middle.log >> d2/f05.txt" },
  { "that file shrunk again", "truncate -s 3000 d2/f05.txt" },
  { "a file renamed", "mv d5/f03.txt d5/r03.txt" },
  { "a mode changed", "chmod 600 d6/f06.txt" },
  { "only an mtime changed", "touch -d '2001-02-03 04:05:06' d1/f20.txt" },
  { "a symlink retargeted", "ln -sfn d3/f01.txt link" },
  { "a hardlink added", "ln d1/f02.txt d6/zz-hard" },
  { "a hardlink removed", "rm d2/hard" },
  { "a folder added", "mkdir -p d3/sub/deeper && echo x > d3/sub/deeper/x.txt" },
  { "a folder removed", "rm -r d4" },
  { "a .dockerignore edit", "printf 'd5/f1*\\n' > .dockerignore" },
  { "every file touched, nothing else", "find . -exec touch -h {} +" },
}

local function digest(code, out, err)
  assert.equal(0, code, err)
  return out:match("digest:%s+(sha256:%x+)")
end

local function build(store, ctx, ...)
  return digest(T.ocibuild("--store", store, "build", ctx, "-t", "e:1", ...))
end

describe("ocibuild build, rebuilt after every kind of edit", function()
  for _, kind in ipairs { "gzip", "zstd" } do
    it("gives a cold build's digest each time (" .. kind .. ")", function()
      local d = T.tmpdir(finally)
      local ctx, store = d .. "/ctx", d .. "/s"
      tree(ctx)
      T.must("sleep 2.2") -- older than the racy window: unchanged files are not read
      local first = build(store, ctx, "--compression", kind)
      assert.equal(first, build(store, ctx, "--compression", kind))
      for i, e in ipairs(EDITS) do
        sh(ctx, e[2])
        local warm = build(store, ctx, "--compression", kind)
        local cold = build(("%s/cold%d"):format(d, i), ctx, "--compression", kind, "--jobs", tostring(1 + i % 3 * 3))
        assert.equal(cold, warm, e[1])
        -- and the blob written is the bytes its digest names
        local code, _, err = T.ocibuild("--store", store, "fsck")
        assert.equal(0, code, e[1] .. ": " .. err)
        T.must("rm -rf " .. T.q(("%s/cold%d"):format(d, i)))
      end
    end)
  end
end)
