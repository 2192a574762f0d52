-- `ocibuild build` with a hostile Dockerfile, context, archive, base or
-- server: every case ends in bounded time with one line naming the
-- Dockerfile's line, writes nothing outside the image, and leaves nothing
-- behind that prune does not remove.
local T = require "support"

local function df(dir, text)
  T.write(dir .. "/Dockerfile", text)
end

-- A hostile HTTP server (spec/support/hostile_http.py) for this test;
-- returns its base URL and the path of its marker file.
local function server(d, finally, other)
  local mark, log = d .. "/mark", d .. "/http.out"
  local pid = T.must(("/usr/bin/python3 -u %s %s %s >%s 2>&1 & echo $!"):format(
    T.q(T.root .. "/spec/support/hostile_http.py"), T.q(mark), T.q(other or ""), T.q(log))):match("%d+")
  finally(function() T.sh("kill " .. pid) end)
  local port
  for _ = 1, 200 do
    port = T.exists(log) and T.read(log):match("port (%d+)")
    if port then break end
    os.execute("sleep 0.05")
  end
  assert.truthy(port, "the HTTP server did not start")
  return "http://127.0.0.1:" .. port, mark
end

local function ls(dir)
  return (T.must("ls -A " .. T.q(dir) .. " 2>/dev/null || true"):gsub("%s+$", ""))
end

describe("ocibuild build with a hostile Dockerfile", function()
  it("keeps a killed build's extracted files in the store's temp folder, where prune removes them", function()
    local d = T.tmpdir(finally)
    local url, mark = server(d, finally)
    T.write(d .. "/src/f.txt", "inside an archive\n")
    T.must("mkdir " .. T.q(d .. "/ctx"))
    T.must(("tar -C %s -cf %s f.txt"):format(T.q(d .. "/src"), T.q(d .. "/ctx/a.tar")))
    df(d .. "/ctx", ("FROM scratch\nADD a.tar /a/\nADD --checksum=sha256:%s %s/hang /h\n"):format(("1"):rep(64), url))
    T.must("mkdir " .. T.q(d .. "/tmp"))
    local pid = T.must(("TMPDIR=%s %s --store %s build -t k:1 %s >/dev/null 2>&1 & echo $!"):format(
      T.q(d .. "/tmp"), T.q(T.bin), T.q(d .. "/s"), T.q(d .. "/ctx"))):match("%d+")
    for _ = 1, 400 do
      if T.exists(mark) then break end
      os.execute("sleep 0.05")
    end
    assert.truthy(T.exists(mark), "the build never asked for the URL")
    T.must("kill -KILL " .. pid)
    T.sh("while kill -0 " .. pid .. " 2>/dev/null; do sleep 0.05; done")
    assert.equal("", ls(d .. "/tmp"))
    assert.matches("^build%-%w+$", ls(d .. "/s/.ocibuild-tmp"))
    local code, out, err = T.ocibuild("--store", d .. "/s", "prune")
    assert.equal(0, code, err)
    assert.matches("1 temp file", out)
    assert.equal("", ls(d .. "/s/.ocibuild-tmp"))
  end)
end)
