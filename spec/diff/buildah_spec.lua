-- Differential spec: RUN-less Dockerfiles built by ocibuild and by
-- `buildah build --isolation chroot` (Debian's buildah, vfs driver in a
-- temp root), compared on the merged file tree (paths, types, modes,
-- owners, link targets, contents) and on the config. Every instruction
-- and flag is covered; what Debian's buildah does not take (--exclude,
-- --parents, --link, heredocs, --unpack, --checksum, symbolic --chmod)
-- is compared with the form buildah takes that means the same. Where
-- buildah and BuildKit differ, ocibuild follows BuildKit, and the spec
-- names each such path and checks BuildKit's result (README: "Dockerfiles").
local B = require "diff.buildah"
local T = require "support"

-- A busybox root file system (as spec/interop/base_spec.lua makes it),
-- with users and groups, a sticky /tmp and a symlinked /var/run.
local function busybox_rootfs(dir)
  T.must(("mkdir -p %s/bin %s/etc %s/root %s/run %s/var %s/tmp %s/opt && chmod 1777 %s/tmp"):format(
    T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir), T.q(dir)))
  T.must(("cp /bin/busybox %s/bin/busybox && cd %s/bin && for a in sh cat ls; do ln -s busybox $a; done")
    :format(T.q(dir), T.q(dir)))
  T.must(("ln -s ../run %s/var/run"):format(T.q(dir)))
  T.write(dir .. "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/opt/app:/bin/sh\n", 420)
  T.write(dir .. "/etc/group", "root:x:0:\nstaff:x:50:\napp:x:1001:\n", 420)
end

local BASE = [[
local oci = require "ocibuild"
local img = oci.image { platform = "linux/amd64" }
img:layer { context = "rootfs" }
img:config { env = { PATH = "/usr/sbin:/usr/bin:/sbin:/bin", HOME = "/root" }, cmd = { "/bin/sh" },
  workdir = "/root", labels = { tier = "base" } }
return img:save { tag = "busybox:base" }
]]

-- The context every scenario reads.
local function context(ctx)
  T.write(ctx .. "/a.txt", "a\n", 420)
  T.write(ctx .. "/b.txt", "b\n", 420)
  T.write(ctx .. "/run.sh", "#!/bin/sh\n", 493)
  T.write(ctx .. "/dir/c.txt", "c\n", 420)
  T.write(ctx .. "/dir/sub/d.txt", "d\n", 384)
  T.write(ctx .. "/src/a/x.go", "package a\n", 420)
  T.write(ctx .. "/src/a/y.txt", "y\n", 420)
  T.write(ctx .. "/src/b/z.go", "package b\n", 420)
  T.write(ctx .. "/secret", "password\n", 420)
  T.write(ctx .. "/.dockerignore", "secret\n*.tmp\n", 420)
  T.write(ctx .. "/junk.tmp", "junk\n", 420)
  T.must(("cd %s && chmod 751 dir && chmod 700 dir/sub && chmod 755 src src/a src/b && ln -s a.txt link.txt"
    .. " && ln -s dir dirlink && ln -s /etc/passwd abs-link && mkfifo fifo && ln a.txt hard.txt"
    .. " && tar --format=gnu -czf arch.tar.gz dir a.txt link.txt && tar -cjf arch.tar.bz2 a.txt"
    .. " && tar -cJf arch.tar.xz b.txt && tar --zstd -cf arch.tar.zst run.sh"):format(T.q(ctx)))
end

-- Docker config fields both builders write, empty ones left out.
local FIELDS = { "Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels",
  "StopSignal", "Healthcheck", "OnBuild", "Shell" }

local function config_of(c)
  local out = {}
  for _, k in ipairs(FIELDS) do
    local v = c[k]
    if type(v) == "table" and next(v) == nil then v = nil end
    if v == "" then v = nil end
    out[k] = v
  end
  if out.Labels then
    out.Labels["io.buildah.version"] = nil
    if next(out.Labels) == nil then out.Labels = nil end
  end
  return out
end

describe("Dockerfiles against buildah", function()
  local tmp, store, ctx, base_tar
  local ready, why

  setup(function()
    ready, why = B.available()
    if not ready then return end
    tmp = T.tmpdir()
    store, ctx = tmp .. "/store", tmp .. "/ctx"
    busybox_rootfs(tmp .. "/rootfs")
    T.write(tmp .. "/base.lua", BASE)
    local code, out, err = T.ocibuild("--store", store, "run", tmp .. "/base.lua")
    assert(code == 0, "base build failed: " .. out .. err)
    base_tar = tmp .. "/base.tar"
    code, out, err = T.ocibuild("--store", store, "export", "busybox:base", "-o", base_tar)
    assert(code == 0, "export failed: " .. out .. err)
    context(ctx)
  end)

  teardown(function()
    if tmp then T.sh("chmod -R u+rwx " .. T.q(tmp) .. "; rm -rf " .. T.q(tmp)) end
  end)

  -- Builds text with both (ours from the store's busybox:base, buildah's
  -- from its OCI archive); returns ours, buildah's.
  local function both(name, text, opts)
    opts = opts or {}
    local file = tmp .. "/" .. name .. ".Dockerfile"
    T.write(file, text)
    local words = { "--store", store, "build", "-q", "-f", file, "-t", name, "--build-arg", "BASE=busybox:base" }
    for k, v in pairs(opts.args or {}) do
      words[#words + 1] = "--build-arg"
      words[#words + 1] = k .. "=" .. v
    end
    if opts.target then
      words[#words + 1] = "--target"
      words[#words + 1] = opts.target
    end
    words[#words + 1] = opts.ctx or ctx
    local code, out, err = T.ocibuild(table.unpack(words))
    assert(code == 0, "ocibuild build failed: " .. out .. err)
    local ours = B.read(store, name .. ":latest")
    if opts.buildah == false then return ours end
    local bargs = { BASE = "oci-archive:" .. base_tar }
    for k, v in pairs(opts.args or {}) do bargs[k] = v end
    local theirs = B.build(tmp, opts.ctx or ctx, { file = opts.buildah_file or file, tag = name, args = bargs,
      target = opts.target })
    return ours, theirs
  end

  -- The configs agree but on the fields of except (checked by the caller).
  local function same_config(ours, theirs, except)
    local a, b = config_of(ours.config.config), config_of(theirs.docker)
    for _, k in ipairs(except or {}) do a[k], b[k] = nil, nil end
    assert.same(b, a)
  end

  it("copies from a context onto scratch: names, folders' contents, wildcards, symlinks followed, chmod, "
    .. "chown, archives unpacked, relative destinations", function()
    if not ready then return pending(why) end
    local ours, theirs = both("copies", [[
FROM scratch
COPY a.txt /file-as-name
COPY a.txt b.txt /multi/
COPY dir /dircontents
COPY dir/ /dircontents2/
COPY *.txt /glob/
COPY link.txt /followed
COPY dirlink /followed-dir
COPY hard.txt fifo /specials/
COPY --chmod=0640 a.txt /chmod-octal
COPY --chmod=0750 dir /chmod-octal-dir
COPY --chown=10:20 dir /chown
COPY --chown=10:20 a.txt /deep/new/chown-file
COPY . /all/
ADD arch.tar.gz /unpacked/
ADD arch.tar.bz2 /unpacked-bz2/
ADD arch.tar.xz /unpacked-xz
ADD arch.tar.zst /unpacked-zst/
ADD --chown=7:8 arch.tar.gz /unpacked-owned/
COPY arch.tar.gz /packed/
ADD a.txt /added.txt
WORKDIR /work/deep
COPY a.txt rel.txt
COPY dir .
WORKDIR sub
COPY b.txt ./
]])
    -- Where BuildKit and buildah differ: BuildKit gives the folder a copy
    -- makes the octal --chmod too (fsutil's MkdirAll with the mode),
    -- buildah 0755; BuildKit gives what ADD unpacks the --chown owner,
    -- buildah keeps the archive's owners.
    local known = { ["chmod-octal-dir"] = true }
    for p in pairs(theirs.tree) do
      if p:match("^unpacked%-owned/") then known[p] = true end
    end
    local diffs = B.diff(ours.tree, theirs.tree, known)
    assert(#diffs == 0, table.concat(diffs, "\n"))
    assert.equal(tonumber("750", 8), ours.tree["chmod-octal-dir"].mode)
    assert.equal(tonumber("755", 8), theirs.tree["chmod-octal-dir"].mode)
    for p, e in pairs(ours.tree) do
      if p:match("^unpacked%-owned/") then assert.same({ 7, 8 }, { e.uid, e.gid }, p) end
    end
    assert.equal(0, theirs.tree["unpacked-owned/a.txt"].uid)
    assert.is_nil(ours.tree["all/secret"])
    assert.equal("fifo", ours.tree["specials/fifo"].type)
    same_config(ours, theirs)
  end)

  it("builds on a base image: owners by name, WORKDIR under USER, destinations through symlinks and in "
    .. "existing folders, and every config instruction", function()
    if not ready then return pending(why) end
    local ours, theirs = both("onbase", [[
ARG BASE
FROM ${BASE}
COPY --chown=app:staff dir /opt/app/dir
COPY --chown=app a.txt /opt/app/
COPY --chown=1000:50 b.txt /opt/app/by-id.txt
COPY a.txt /var/run/x/
COPY dir /tmp/
COPY b.txt /root/
USER app
WORKDIR /opt/app/data
WORKDIR /srv/new
USER root
WORKDIR /srv/root-owned
ENV A=1 B="two words" C=${A}x
ENV PATH=$PATH:/opt/bin
LABEL a=b "c d"=e f=${A}
EXPOSE 80 53/udp 8000-8002/tcp
VOLUME /data
VOLUME ["/logs", "/cache"]
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=5s --start-period=1m --retries=3 CMD wget -q -O- http://localhost/
SHELL ["/bin/sh", "-ec"]
CMD echo hello $A
ONBUILD COPY a.txt /onbuild/
ENTRYPOINT ["/bin/sh"]
CMD ["-c", "echo exec"]
USER app:staff
]])
    local diffs = B.diff(ours.tree, theirs.tree)
    assert(#diffs == 0, table.concat(diffs, "\n"))
    assert.same({ 1000, 50 }, { ours.tree["opt/app/dir/c.txt"].uid, ours.tree["opt/app/dir/c.txt"].gid })
    assert.same({ 1000, 1001 }, { ours.tree["opt/app/a.txt"].uid, ours.tree["opt/app/a.txt"].gid })
    assert.equal(1000, ours.tree["opt/app/data"].uid)
    assert.equal("file", ours.tree["run/x/a.txt"].type)
    assert.equal(tonumber("1777", 8), ours.tree.tmp.mode)
    same_config(ours, theirs, { "Env", "ExposedPorts" })
    -- BuildKit replaces a variable where it is; buildah moves it last
    local env = ours.config.config.Env
    assert.same({ "HOME=/root", "PATH=/usr/sbin:/usr/bin:/sbin:/bin:/opt/bin", "A=1", "B=two words", "C=x" }, env)
    local sorted_ours, sorted_theirs = table.move(env, 1, #env, 1, {}), table.move(theirs.docker.Env, 1,
      #theirs.docker.Env, 1, {})
    table.sort(sorted_ours)
    table.sort(sorted_theirs)
    assert.same(sorted_theirs, sorted_ours)
    -- BuildKit lists each port of a range; buildah keeps the range
    assert.same({ ["53/udp"] = {}, ["80/tcp"] = {}, ["8000/tcp"] = {}, ["8001/tcp"] = {}, ["8002/tcp"] = {} },
      ours.config.config.ExposedPorts)
    assert.same({ ["53/udp"] = {}, ["80/tcp"] = {}, ["8000-8002/tcp"] = {} }, theirs.docker.ExposedPorts)
  end)

  it("builds stages: COPY --from a stage by name and by index and from an image, FROM a stage, ARG scopes, "
    .. "--target", function()
    if not ready then return pending(why) end
    local text = [[
ARG BASE
ARG VERSION=1.0
FROM scratch AS files
ARG VERSION
COPY dir /out/
COPY --chmod=0755 a.txt /out/bin/tool-${VERSION}
FROM ${BASE} AS runtime
ENV STAGE=runtime
WORKDIR /srv
FROM runtime AS final
ARG VERSION
ARG LATE=late
ENV V=${VERSION} L=${LATE}
COPY --from=files /out /opt/files
COPY --from=0 /out/bin/ /usr/local/bin/
COPY --from=IMAGE /etc/passwd /copied-passwd
COPY --from=files --chown=app:staff /out/c.txt relative.txt
FROM scratch AS unused
COPY nothing-here /x
]]
    -- --from takes no variables: each builder names the base its own way
    local bfile = tmp .. "/stages-buildah.Dockerfile"
    T.write(bfile, (text:gsub("IMAGE", "oci-archive:" .. base_tar)))
    local ours, theirs = both("stages", (text:gsub("IMAGE", "busybox:base")), { target = "final",
      buildah_file = bfile })
    local diffs = B.diff(ours.tree, theirs.tree)
    assert(#diffs == 0, table.concat(diffs, "\n"))
    assert.equal("file", ours.tree["usr/local/bin/tool-1.0"].type)
    assert.equal("file", ours.tree["srv/relative.txt"].type)
    same_config(ours, theirs)
    local env = {}
    for _, e in ipairs(ours.config.config.Env) do env[e:match("^[^=]+")] = e:match("=(.*)$") end
    assert.same({ "1.0", "late", "runtime" }, { env.V, env.L, env.STAGE })
  end)

  it("builds what BuildKit takes and this buildah spells otherwise: --exclude, --parents, --link, heredocs, "
    .. "--unpack=false, symbolic --chmod", function()
    if not ready then return pending(why) end
    local ours = both("modern", [[
FROM scratch
COPY --exclude=**/*.go --exclude=b src /excl
COPY --parents src/a/x.go dir/sub/d.txt /par/
COPY --link a.txt /linked/
COPY --link --chmod=0600 b.txt /linked/
COPY <<EOF /heredoc.txt
hello
EOF
COPY <<-"EOF" <<EOT /docs/
	raw $HOME
	EOF
second
EOT
ADD --unpack=false arch.tar.gz /packed/
COPY --chmod=u+x,g=r,o= a.txt /sym-file
COPY --chmod=a=rX dir /sym-dir
]], { buildah = false })
    local eq = tmp .. "/eq"
    T.must(("mkdir -p %s && cp -a %s/. %s/ && rm -f %s/src/a/x.go %s/src/b/z.go && rmdir %s/src/b"):format(
      T.q(eq), T.q(ctx), T.q(eq), T.q(eq), T.q(eq), T.q(eq)))
    T.write(eq .. "/heredoc.txt", "hello\n", 420)
    T.write(eq .. "/EOF", "raw $HOME\n", 420)
    T.write(eq .. "/EOT", "second\n", 420)
    T.write(eq .. "/x.go", "package a\n", 420)
    T.write(tmp .. "/modern-eq.Dockerfile", [[
FROM scratch
COPY src /excl
COPY x.go /par/src/a/
COPY dir/sub/d.txt /par/dir/sub/
COPY a.txt /linked/
COPY --chmod=0600 b.txt /linked/
COPY heredoc.txt /heredoc.txt
COPY EOF EOT /docs/
COPY arch.tar.gz /packed/
COPY --chmod=0740 a.txt /sym-file
COPY dir /sym-dir
]])
    local theirs = B.build(tmp, eq, { tag = "modern-eq", file = tmp .. "/modern-eq.Dockerfile" })
    -- --parents recreates the source's folders with their own modes
    -- (fsutil's createParentDirs), plain copies make them 0755; a=rX
    -- makes folders (and what has an x bit) r-x, the rest r--
    local known = { ["par/dir"] = true, ["par/dir/sub"] = true }
    for p in pairs(ours.tree) do
      if p:match("^sym%-dir/") then known[p] = true end
    end
    local diffs = B.diff(ours.tree, theirs.tree, known)
    assert(#diffs == 0, table.concat(diffs, "\n"))
    assert.equal(tonumber("751", 8), ours.tree["par/dir"].mode)
    assert.equal(tonumber("700", 8), ours.tree["par/dir/sub"].mode)
    assert.equal(tonumber("555", 8), ours.tree["sym-dir/sub"].mode)
    assert.equal(tonumber("444", 8), ours.tree["sym-dir/c.txt"].mode)
    assert.equal(tonumber("444", 8), ours.tree["sym-dir/sub/d.txt"].mode)
    assert.equal(theirs.tree["sym-dir/c.txt"].sha256, ours.tree["sym-dir/c.txt"].sha256)
  end)
end)
