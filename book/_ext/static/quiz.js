// Self-checking quizzes of "Saliency under the Microscope" (book/_ext/quizzes.py writes the HTML).
// No kernel and no network: the answer and the explanation are in the page; checking an answer shows
// whether it is right and why.
(function () {
  "use strict";

  function chosen(question) {
    if (question.dataset.kind === "choice") {
      const picked = question.querySelector("input[type=radio]:checked");
      return picked ? Number(picked.value) : null;
    }
    const text = question.querySelector("input[type=text]").value.trim().replace(",", ".");
    return text === "" || isNaN(Number(text)) ? null : Number(text);
  }

  function isRight(question, value) {
    const answer = Number(question.dataset.answer);
    if (question.dataset.kind === "choice") {
      return value === answer;
    }
    return Math.abs(value - answer) <= Number(question.dataset.tolerance) + 1e-12;
  }

  function check(question) {
    const feedback = question.querySelector(".quiz-feedback");
    const explanation = question.querySelector(".quiz-explanation");
    const value = chosen(question);
    feedback.hidden = false;
    if (value === null) {
      feedback.textContent = question.dataset.kind === "choice" ? "Pick an answer first." : "Enter a number first.";
      feedback.className = "quiz-feedback quiz-empty";
      explanation.hidden = true;
      return;
    }
    const right = isRight(question, value);
    feedback.textContent = right ? "Correct." : "Not quite: read why, then try again.";
    feedback.className = "quiz-feedback " + (right ? "quiz-right" : "quiz-wrong");
    explanation.hidden = false;
  }

  function setup() {
    document.querySelectorAll(".quiz-question").forEach(function (question) {
      question.querySelector(".quiz-check").addEventListener("click", function () { check(question); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
