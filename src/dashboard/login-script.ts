/**
 * The sign-in page's script (served at /dashboard/assets/login.js): posts the key to /dashboard/session and, once
 * the session cookie is set, loads the dashboard. Errors are shown as text.
 */
export const LOGIN_SCRIPT = String.raw`(function () {
  'use strict';
  var form = document.getElementById('login-form');
  var input = document.getElementById('login-key');
  var submit = document.getElementById('login-submit');
  var error = document.getElementById('login-error');

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    fetch('dashboard/session', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ key: input.value.trim() })
    })
      .then(function (res) {
        if (res.ok) {
          location.reload();
          return;
        }
        return res.json().then(
          function (body) {
            var message = body && body.error ? body.error.message : 'Signing in failed (HTTP ' + res.status + ').';
            if (res.status === 403) message = 'This key cannot read the dashboard. ' + message;
            error.textContent = message;
          },
          function () {
            error.textContent = 'Signing in failed (HTTP ' + res.status + ').';
          }
        );
      })
      .catch(function () {
        error.textContent = 'The gateway could not be reached.';
      })
      .then(function () {
        submit.disabled = false;
      });
  });
})();
`;
