// Measures every plot as laid out and records the verdict in the DOM, for
// headless checks (`chromium --dump-dom`). A plot passes when its SVG has a
// size, its text renders, it shows at least as many 2-px data curves with a
// non-empty extent as the report drew, and every one of those curves
// stands out from the plot's background: a stroke whose contrast ratio
// (WCAG 2) against the background is under 3:1, or that is transparent,
// counts as a curve nobody can see and fails the plot.
(function () {
  var MIN_CONTRAST = 3;
  function rgb(text) {
    var m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+))?/.exec(text || '');
    if (!m) { return null; }
    return { r: +m[1], g: +m[2], b: +m[3], a: m[4] === undefined ? 1 : +m[4] };
  }
  function luminance(c) {
    function lin(v) {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
  }
  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  var figures = document.querySelectorAll('figure.plot');
  var failed = [];
  figures.forEach(function (f) {
    var svg = f.querySelector('svg');
    var want = parseInt(f.getAttribute('data-curves') || '0', 10);
    var box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    var drawn = 0, faint = 0, textWidth = 0, worst = Infinity;
    if (svg) {
      var bgRect = svg.querySelector('rect');
      var bg = (bgRect && rgb(getComputedStyle(bgRect).fill)) || { r: 255, g: 255, b: 255, a: 1 };
      svg.querySelectorAll('polyline[stroke-width="2"]').forEach(function (p) {
        // Colour first, for every curve: a one-point series has no width
        // but its colour is still the series' colour.
        var style = getComputedStyle(p);
        var stroke = rgb(style.stroke);
        var opacity = parseFloat(style.opacity) * parseFloat(style.strokeOpacity);
        var ratio = stroke && stroke.a * opacity > 0.5 ? contrast(stroke, bg) : 1;
        worst = Math.min(worst, ratio);
        if (ratio < MIN_CONTRAST) { faint++; return; }
        if (p.getBBox().width > 0) { drawn++; }
      });
      svg.querySelectorAll('text').forEach(function (t) {
        textWidth += t.getComputedTextLength();
      });
    }
    var ok = box.width > 0 && box.height > 0 && drawn >= want && faint === 0 && textWidth > 0;
    f.setAttribute('data-rendered', ok ? 'ok' : 'fail');
    f.setAttribute('data-measured', Math.round(box.width) + 'x' + Math.round(box.height) +
      ' curves=' + drawn + '/' + want + ' faint=' + faint +
      ' min-contrast=' + (worst === Infinity ? '-' : worst.toFixed(2)) +
      ' text=' + Math.round(textWidth));
    if (!ok) { failed.push(f.id); }
  });
  var out = document.getElementById('render-check');
  out.setAttribute('data-status', figures.length > 0 && failed.length === 0 ? 'pass' : 'fail');
  out.textContent = 'render check: ' + (figures.length - failed.length) + ' of ' +
    figures.length + ' plots rendered' + (failed.length ? '; failed: ' + failed.join(' ') : '');
})();
