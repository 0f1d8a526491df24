// Zoom for the report's SVG charts: drag across a chart to zoom its time axis, wheel to zoom
// around the pointer, double-click to see the whole run again. The page opened with
// #zoom=FROM,TO (seconds) starts zoomed there. Nothing is fetched; hover titles are SVG's own.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function nice(span) {
    var power = Math.pow(10, Math.floor(Math.log10(span)));
    var factors = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < factors.length; i++) {
      if (factors[i] * power >= span) return factors[i] * power;
    }
    return 10 * power;
  }

  function setup(svg) {
    var full = [Number(svg.dataset.t0), Number(svg.dataset.t1)];
    var left = Number(svg.dataset.left), width = Number(svg.dataset.plotw);
    var top = Number(svg.dataset.top), height = Number(svg.dataset.ploth);
    var view = full.slice();
    var brush = svg.querySelector(".brush");
    var axis = svg.querySelector(".x-ticks");

    function px(t) { return left + (t - view[0]) / (view[1] - view[0]) * width; }
    function time(x) { return view[0] + (x - left) / width * (view[1] - view[0]); }
    function pointerX(event) {
      var box = svg.getBoundingClientRect();
      return (event.clientX - box.left) * (Number(svg.dataset.width) / box.width);
    }

    function draw() {
      svg.querySelectorAll("circle[data-t]").forEach(function (c) {
        c.setAttribute("cx", px(Number(c.dataset.t)).toFixed(1));
      });
      svg.querySelectorAll("polyline[data-ts]").forEach(function (line) {
        var ts = line.dataset.ts.split(" "), ys = line.dataset.ys.split(" ");
        line.setAttribute("points", ts.map(function (t, i) {
          return px(Number(t)).toFixed(1) + "," + ys[i];
        }).join(" "));
      });
      svg.querySelectorAll("rect[data-t0]").forEach(function (band) {
        var x0 = px(Number(band.dataset.t0)), x1 = px(Number(band.dataset.t1));
        band.setAttribute("x", x0.toFixed(1));
        band.setAttribute("width", Math.max(0, x1 - x0).toFixed(1));
      });
      svg.querySelectorAll("text[data-t0]").forEach(function (label) {
        var mid = (Math.max(Number(label.dataset.t0), view[0]) +
                   Math.min(Number(label.dataset.t1), view[1])) / 2;
        label.setAttribute("x", px(mid).toFixed(1));
      });
      while (axis.firstChild) axis.removeChild(axis.firstChild);
      var step = nice((view[1] - view[0]) / 8);
      for (var t = Math.ceil(view[0] / step) * step; t <= view[1] + 1e-9; t += step) {
        var label = document.createElementNS(SVG, "text");
        label.setAttribute("x", px(t).toFixed(1));
        label.setAttribute("y", top + height + 16);
        label.setAttribute("text-anchor", "middle");
        label.textContent = String(Math.round(t * 100) / 100);
        axis.appendChild(label);
      }
      svg.dataset.view = view[0].toFixed(2) + "," + view[1].toFixed(2);
    }

    function zoomTo(from, to) {
      from = Math.max(full[0], from);
      to = Math.min(full[1], to);
      if (to - from < 1) return;
      view = [from, to];
      draw();
    }
    svg.zoomTo = zoomTo;

    var start = null;
    svg.addEventListener("mousedown", function (event) {
      start = pointerX(event);
      brush.setAttribute("x", start);
      brush.setAttribute("width", 0);
      brush.style.display = "";
      event.preventDefault();
    });
    svg.addEventListener("mousemove", function (event) {
      if (start === null) return;
      var x = pointerX(event);
      brush.setAttribute("x", Math.min(start, x));
      brush.setAttribute("width", Math.abs(x - start));
    });
    window.addEventListener("mouseup", function (event) {
      if (start === null) return;
      var end = pointerX(event), first = Math.min(start, end), last = Math.max(start, end);
      start = null;
      brush.style.display = "none";
      if (last - first > 4) zoomTo(time(first), time(last));
    });
    svg.addEventListener("wheel", function (event) {
      var at = time(pointerX(event)), factor = event.deltaY > 0 ? 1.25 : 0.8;
      zoomTo(at - (at - view[0]) * factor, at + (view[1] - at) * factor);
      event.preventDefault();
    }, { passive: false });
    svg.addEventListener("dblclick", function () { view = full.slice(); draw(); });
  }

  var charts = document.querySelectorAll("svg.chart");
  charts.forEach(setup);
  var asked = /^#zoom=([0-9.]+),([0-9.]+)$/.exec(window.location.hash);
  if (asked) {
    charts.forEach(function (svg) { svg.zoomTo(Number(asked[1]), Number(asked[2])); });
  }
})();
