// Optional: lets a person share their location for this scan, only when they
// press the button and the browser asks for (and gets) their consent.
(function () {
  var button = document.getElementById('share-location');
  if (!button || !navigator.geolocation) { return; }
  button.hidden = false;
  button.addEventListener('click', function () {
    var status = document.getElementById('share-status');
    navigator.geolocation.getCurrentPosition(function (pos) {
      var body = 'scan=' + encodeURIComponent(button.dataset.scan) + '&token=' + encodeURIComponent(button.dataset.token) +
        '&lat=' + pos.coords.latitude.toFixed(3) + '&lon=' + pos.coords.longitude.toFixed(3);
      fetch(button.dataset.url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: body })
        .then(function (r) { status.textContent = r.ok ? button.dataset.done : button.dataset.failed; });
    }, function () { status.textContent = button.dataset.failed; }, { maximumAge: 60000, timeout: 15000 });
  });
})();
