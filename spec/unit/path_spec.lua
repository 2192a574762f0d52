local path = require "ocibuild.util.path"

describe("ocibuild.util.path", function()
  it("joins, with an absolute second part winning", function()
    assert.same({ "a/b", "a/b", "/b", "b" }, { path.join("a", "b"), path.join("a/", "b"), path.join("a", "/b"),
      path.join("", "b") })
  end)

  it("names the folder of a path", function()
    assert.same({ ".", "/", "/a", "a" }, { path.dirname("f"), path.dirname("/f"), path.dirname("/a/f"),
      path.dirname("a/f") })
  end)

  it("makes paths absolute lexically", function()
    assert.equal("/base/x/z", path.abs("x/./y/../z", "/base"))
    assert.equal("/x", path.abs("/a/../../x", "/base"))
    assert.equal("/", path.abs(".", "/"))
    assert.equal(path.cwd() .. "/f", path.abs("f"))
  end)
end)
