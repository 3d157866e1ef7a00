/* Org paths (zhongshan.hongyan.dongfeng): the one place the dashboard reads them.
   The same rules as shared/auth.py in_scope: a scope covers itself and everything below. */
(function (root) {
  "use strict";

  var LEVELS = ["district", "street", "community"];

  function parts(path) { return path ? path.split(".") : []; }

  function depth(path) { return parts(path).length; }

  function covers(scope, path) { return path === scope || path.indexOf(scope + ".") === 0; }

  function parent(path) {
    var p = parts(path);
    return p.length > 1 ? p.slice(0, -1).join(".") : null;
  }

  // The paths from `top` (inclusive) down to `path` (inclusive), top first.
  function lineage(top, path) {
    var p = parts(path);
    var out = [];
    for (var i = depth(top); i <= p.length; i++) out.push(p.slice(0, i).join("."));
    return out;
  }

  function level(path) { return LEVELS[depth(path) - 1] || "grid"; }

  function last(path) { return parts(path).pop() || ""; }

  root.TongxinOrgPath = {
    covers: covers, parent: parent, lineage: lineage, level: level, depth: depth, last: last
  };
})(window);
