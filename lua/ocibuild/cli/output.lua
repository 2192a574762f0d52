--- What the CLI prints: sizes for people, and the result of a build.
local M = {}

--- n bytes as "512 B", "1.5 KiB", "3.2 MiB".
function M.human(n)
  local units, u = { "B", "KiB", "MiB", "GiB", "TiB" }, 1
  local x = n
  while x >= 1024 and u < #units do
    x = x / 1024
    u = u + 1
  end
  return u == 1 and ("%d B"):format(n) or ("%.1f %s"):format(x, units[u])
end

--- Prints what a build produced: tags, manifest digest, size, outputs.
function M.result(r, out)
  out = out or io.stdout
  for _, t in ipairs(r.tags or {}) do out:write("tag:      ", t.familiar, "\n") end
  out:write("digest:   ", r.digest, "\n")
  if r.image_id then out:write("image id: ", r.image_id, "\n") end
  out:write(("size:     %d (%s)\n"):format(r.size, M.human(r.size)))
  out:write("store:    ", r.path, "\n")
  if r.archive then out:write("archive:  ", r.archive, "\n") end
  for _, p in ipairs(r.pushed or {}) do out:write("pushed:   ", p.reference, "\n") end
end

return M
