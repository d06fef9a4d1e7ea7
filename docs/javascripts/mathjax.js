// MathJax 2, served from the site itself (docs/hooks.py copies it to assets/mathjax/), reads the
// formulas pymdownx.arithmatex leaves as \( \) and \[ \] for $...$ and $$...$$ (and the notebooks'
// $...$), and hands each to the browser as MathML, which every current browser draws itself.
window.MathJax = {
  config: ["TeX-AMS-MML_HTMLorMML-full.js"],
  tex2jax: {inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]]},
  menuSettings: {renderer: "NativeMML"},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},   // unused, but set up
  TeX: {noErrors: {disabled: true}, noUndefined: {disabled: true}},   // a TeX error shows as an error
  showMathMenu: false,
  messageStyle: "none",
};
