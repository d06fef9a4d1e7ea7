// MathJax 2, served from the site itself (docs/hooks.py copies it to assets/mathjax/), typesets the
// formulas pymdownx.arithmatex leaves as \( \) and \[ \] for $...$ and $$...$$ (and the notebooks'
// $...$) with the STIX-Web fonts it ships, so no page asks another site for anything.
window.MathJax = {
  config: ["TeX-AMS-MML_HTMLorMML-full.js"],
  tex2jax: {inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]]},
  menuSettings: {renderer: "HTML-CSS"},
  "HTML-CSS": {
    availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
    // MathJax measures its fonts against an empty one it loads from about:blank, which browsers refuse
    // with a console error; a local font that does not exist is as empty.
    styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}},
  },
  TeX: {noErrors: {disabled: true}, noUndefined: {disabled: true}},   // a TeX error shows as an error
  showMathMenu: false,
  messageStyle: "none",
};
