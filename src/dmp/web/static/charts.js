// Draws each [data-figure] chart with the locally served Plotly, in French.
// Without JavaScript the page still shows every number in its table; once a chart
// is drawn, its table folds away (still one click away, for screen readers too).
(function () {
  "use strict";
  if (!window.Plotly) {
    return; // Plotly failed to load: the tables stay open.
  }
  Plotly.register({
    moduleType: "locale",
    name: "fr",
    dictionary: {
      "Autoscale": "Échelle automatique",
      "Download plot as a png": "Télécharger le graphique (PNG)",
      "Pan": "Déplacer",
      "Reset axes": "Réinitialiser les axes",
      "Zoom": "Zoom",
      "Zoom in": "Zoom avant",
      "Zoom out": "Zoom arrière",
      "Double-click to zoom back out": "Double-cliquez pour revenir au zoom initial"
    },
    format: {
      days: ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
      shortDays: ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
      months: ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
        "septembre", "octobre", "novembre", "décembre"],
      shortMonths: ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août",
        "sept.", "oct.", "nov.", "déc."],
      date: "%d/%m/%Y",
      decimal: ",",
      thousands: "\u202f"
    }
  });
  var config = {
    locale: "fr",
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "toggleSpikelines", "hoverClosestCartesian",
      "hoverCompareCartesian"]
  };
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var figure = JSON.parse(el.getAttribute("data-figure"));
    Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
      var table = el.parentElement.querySelector("details.data");
      if (table) {
        table.removeAttribute("open");
      }
    });
  });
})();
